"""Codec worker processes (thumbnailer/workers.py): a memory ceiling per worker, a dead worker
fails its job with the cause and is replaced, and thumbnails made in a worker are the same
bytes as those made in the server process."""

from __future__ import annotations

import os
import signal
import struct
import zlib
from functools import partial
from pathlib import Path

import pytest
import trio
from codec_worker_tasks import (
    SIGSEGV,
    allocate,
    crash,
    leave_freed_heap,
    pid,
    rss,
    wait_to_be_killed,
)
from PIL import Image

from immich_trio.actors.thumbnailer.codecs import generate_image_thumbnails, render_image_thumbnails
from immich_trio.actors.thumbnailer.files import write_all
from immich_trio.actors.thumbnailer.options import ThumbnailError, ThumbnailOptions
from immich_trio.actors.thumbnailer.workers import (
    CEILING_ENV,
    MARGIN_MB,
    TRIM_ABOVE_MB,
    CodecWorkers,
    open_codec_workers,
    worker_ceiling,
)

LIMIT = 60  # real clock: workers are processes (spawn + imports ~1 s on a loaded machine)
MB = 1024 * 1024
CEILING = 384 * MB


def _png_claiming(width: int, height: int) -> bytes:
    """A valid-looking RGB PNG of ``width`` x ``height`` whose pixel data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def _run(workers: CodecWorkers, fn: object, what: str = "job") -> object:
    with trio.fail_after(LIMIT):
        return await workers.run(fn, limiter=trio.CapacityLimiter(1), what=what)  # type: ignore[arg-type]


def test_the_ceiling_is_the_budget_plus_the_margin_unless_set() -> None:
    assert worker_ceiling({}) == (512 + MARGIN_MB) * MB
    assert worker_ceiling({"IMMICH_TRIO_DECODE_MEMORY_MB": "256"}) == (256 + MARGIN_MB) * MB
    assert worker_ceiling({CEILING_ENV: "300", "IMMICH_TRIO_DECODE_MEMORY_MB": "256"}) == 300 * MB
    assert worker_ceiling({CEILING_ENV: "lots"}) == (512 + MARGIN_MB) * MB


async def test_an_allocation_past_the_ceiling_fails_for_good_and_the_worker_is_replaced() -> None:
    async with open_codec_workers(ceiling=CEILING) as workers:
        first = await _run(workers, pid)
        assert await _run(workers, pid) == first  # reused, not a process per job
        assert await _run(workers, partial(allocate, 64)) == 64 * MB  # under the ceiling: fine
        with pytest.raises(ThumbnailError) as caught:
            await _run(workers, partial(allocate, 1024), "big.png")
        assert caught.value.permanent
        assert "out of memory" in caught.value.reason
        assert "ceiling of 384 MB" in caught.value.reason and CEILING_ENV in caught.value.reason
        # The worker that ran out of memory retired; a fresh one takes the next job.
        second = await _run(workers, pid)
        assert second != first
        assert workers.statistics().out_of_memory == 1


async def test_a_png_that_passes_the_budget_check_hits_the_ceiling_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget the header check accepts (12000x12000 RGB decodes in memory: ~430 MB per copy)
    # and a ceiling the decode cannot fit in: what a lying header or a codec that allocates
    # more than the header says would do to the server process.
    monkeypatch.setenv("IMMICH_TRIO_DECODE_MEMORY_MB", "4096")
    source = tmp_path / "liar.png"
    source.write_bytes(_png_claiming(12000, 12000))
    out = tmp_path / "thumbs"
    render = partial(
        render_image_thumbnails,
        preview_path=out / "p.jpeg",
        thumbnail_path=out / "t.webp",
        fullsize_path=None,
        options=ThumbnailOptions(),
    )
    async with open_codec_workers(ceiling=CEILING) as workers:
        with pytest.raises(ThumbnailError) as caught:
            await _run(workers, partial(render, source), source.name)
        assert caught.value.permanent
        assert caught.value.reason.startswith("liar.png: out of memory while decoding")
        assert "ceiling of 384 MB" in caught.value.reason
        assert not out.exists()

        photo = tmp_path / "photo.png"
        Image.new("RGB", (640, 480), (200, 40, 40)).save(photo)
        rendered = await _run(workers, partial(render, photo))
        assert rendered.result.preview_size == (640, 480)  # type: ignore[attr-defined]


async def test_a_worker_left_large_by_a_job_gives_the_free_memory_back() -> None:
    async with open_codec_workers(ceiling=CEILING) as workers:
        worker = await _run(workers, pid)
        at_start = await _run(workers, rss)
        # Freed but resident when the job ends (glibc keeps it), as after a bomb or a panorama.
        assert await _run(workers, partial(leave_freed_heap, 200)) > at_start + 150 * MB  # type: ignore[operator]
        assert await _run(workers, pid) == worker  # the same worker, now trimmed
        assert await _run(workers, rss) < at_start + TRIM_ABOVE_MB * MB  # type: ignore[operator]


@pytest.mark.parametrize(("sig", "name"), [(SIGSEGV, "SIGSEGV"), (int(signal.SIGKILL), "SIGKILL")])
async def test_a_worker_that_dies_fails_the_job_with_the_cause_and_the_next_job_runs(
    sig: int, name: str
) -> None:
    async with open_codec_workers(ceiling=CEILING) as workers:
        first = await _run(workers, pid)
        with pytest.raises(ThumbnailError) as caught:
            await _run(workers, partial(crash, sig), "crash.heic")
        assert caught.value.permanent
        assert caught.value.reason == f"crash.heic: the codec worker died (killed by {name}) while decoding; not retried"
        assert await _run(workers, pid) != first
        assert workers.statistics().died == 1


async def test_a_worker_killed_from_outside_mid_job(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    async with open_codec_workers(ceiling=CEILING) as workers:
        async with trio.open_nursery() as nursery:

            async def kill_when_running() -> None:
                with trio.fail_after(LIMIT):
                    while not pid_file.exists() or not pid_file.read_text():  # noqa: ASYNC110
                        await trio.sleep(0.01)
                os.kill(int(pid_file.read_text()), signal.SIGKILL)

            nursery.start_soon(kill_when_running)
            with pytest.raises(ThumbnailError, match=r"killed by SIGKILL"):
                await _run(workers, partial(wait_to_be_killed, pid_file), "photo.jpg")
        assert isinstance(await _run(workers, pid), int)


@pytest.mark.parametrize(
    "asset",
    ["formats/jpg/el_torcal_rocks.jpg", "formats/png/density_plot.png", "formats/webp/denali.webp"],
)
async def test_a_worker_writes_the_same_bytes_as_the_server_process(
    tmp_path: Path, test_assets: Path, asset: str
) -> None:
    source = test_assets / asset
    options = ThumbnailOptions()

    def paths(folder: str) -> dict[str, Path]:
        return {
            "preview_path": tmp_path / folder / "p.jpeg",
            "thumbnail_path": tmp_path / folder / "t.webp",
            "fullsize_path": tmp_path / folder / "f.jpeg",
        }

    here = generate_image_thumbnails(source, **paths("here"), options=options)
    async with open_codec_workers() as workers:
        rendered = await _run(workers, partial(render_image_thumbnails, source, **paths("there"), options=options))
    write_all(rendered.outputs)  # type: ignore[attr-defined]
    there = rendered.result  # type: ignore[attr-defined]
    assert there.thumbhash == here.thumbhash and there.preview_size == here.preview_size
    for kind in ("p.jpeg", "t.webp", "f.jpeg"):
        assert (tmp_path / "there" / kind).read_bytes() == (tmp_path / "here" / kind).read_bytes(), kind
