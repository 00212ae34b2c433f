"""The thumbnailer actor when its codec worker dies mid-job: the job fails once with the cause,
nothing is left in ``thumbs/``, and the next photo gets its thumbnails from a new worker."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import psutil
import pytest
import trio
from test_thumbnailer_actor import Sql, add_asset, run_job

from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.sql.pool import Pool

LIMIT = 60


@pytest.fixture
async def actor(
    nursery: trio.Nursery, pool: Pool, media: Path, config_watch: ConfigWatch
) -> ThumbnailerActor:
    actor = ThumbnailerActor(pool, media)
    await nursery.start(actor.run)
    return actor


def _codec_workers() -> list[psutil.Process]:
    return [
        p for p in psutil.Process().children() if any("spawn_main" in part for part in p.cmdline())
    ]


async def _wait_for_a_reader(fifo: Path) -> int:
    """Open the FIFO's write end once the worker holds its read end: the worker is then inside
    the job, reading the original (it blocks there, as on a slow disk, until killed)."""
    with trio.fail_after(LIMIT):
        while True:
            try:
                return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            await trio.sleep(0.01)


async def test_a_worker_killed_mid_job_fails_the_job_and_the_next_photo_is_fine(
    actor: ThumbnailerActor, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    stuck_id, original = add_asset(sql, media, owner, b"")
    original.unlink()
    os.mkfifo(original)
    results = []
    async with trio.open_nursery() as nursery:

        async def job() -> None:
            results.append(await run_job(actor, stuck_id))

        nursery.start_soon(job)
        writer = await _wait_for_a_reader(original)
        try:
            workers = _codec_workers()
            assert len(workers) == 1, workers
            workers[0].send_signal(signal.SIGKILL)
        finally:
            os.close(writer)
    [stuck] = results
    assert stuck.status == "failed" and stuck.retry is False
    assert stuck.error == (
        f"{original.name}: the codec worker died (killed by SIGKILL) while decoding; not retried"
    )
    assert not (media / "thumbs").exists()  # nothing half-written, not even a temp file

    ok_id, _ = add_asset(sql, media, owner, (test_assets / "formats/jpg/el_torcal_rocks.jpg").read_bytes())
    ok = await run_job(actor, ok_id)
    assert ok.status == "success"
    assert sorted(p.name for p in (media / "thumbs").rglob("*") if p.is_file()) == sorted(
        [f"{ok_id}_preview.jpeg", f"{ok_id}_thumbnail.webp"]
    )
    status = actor.extra_status()
    assert status["failed"] == 1 and status["success"] == 1
    assert status["codecWorkers"]["died"] == 1  # type: ignore[index]
