"""The exiftool client against the real exiftool: requests, odd names, crashes, hangs."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import trio

from immich_trio.actors.metadata.exiftool import ExiftoolError, open_exiftool
from immich_trio.reactor.background import BACKGROUND_NICE

pytestmark = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool not installed (apt-get install -y libimage-exiftool-perl)",
)

CAP = 30  # seconds: hard cap on any test, real clock


async def test_version_and_tags(test_assets: Path) -> None:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            version = await et.version()
            assert float(version) >= 12
            tags = await et.read_tags(test_assets / "metadata/rating/mongolels.jpg")
    assert tags["Rating"] == 3
    assert tags["ExposureTime"] == "1/250"  # printed form
    assert tags["Orientation"] == 1  # numeric (-Orientation#)
    assert tags["ImageSize"] == "950x634"


ODD_NAMES = [b"-looks-like-an-option.jpg", b"new\nline.jpg", b"caf\xe9 latin1 .jpg", b" lead.jpg"]


@pytest.fixture
def odd_files(test_assets: Path, tmp_path: Path) -> list[bytes]:
    """Copies of a rated photo under names that break naive argument passing."""
    source = (test_assets / "metadata/rating/mongolels.jpg").read_bytes()
    folder = os.fsencode(tmp_path)
    paths = [os.path.join(folder, name) for name in ODD_NAMES]
    for path in paths:
        with open(path, "wb") as f:
            f.write(source)
    return paths


async def test_odd_file_names(odd_files: list[bytes]) -> None:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            for path in odd_files:
                tags = await et.read_tags(path)
                assert tags["Rating"] == 3, path


async def test_missing_file_is_an_error_and_process_survives(test_assets: Path) -> None:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            with pytest.raises(ExiftoolError, match="not found"):
                await et.read_tags("/nonexistent/file.jpg")
            pid = et.statistics().pid
            tags = await et.read_tags(test_assets / "metadata/tags/picasa.jpg")
            assert tags["Keywords"] == ["Frost", "Yard"]
            assert et.statistics().pid == pid


async def test_the_process_runs_at_a_lower_priority() -> None:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            await et.version()
            pid = et.statistics().pid
            assert pid is not None
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)


async def test_utf16_sidecar_is_read(test_assets: Path) -> None:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            tags = await et.read_sidecar(test_assets / "metadata/xmp/dates/2010.xmp")
    assert tags["CreateDate"] == "2010:09:27 14:35:33+02:00"


async def test_survives_killed_process(test_assets: Path) -> None:
    photo = test_assets / "metadata/rating/mongolels.jpg"
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            await et.read_tags(photo)
            pid = et.statistics().pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await trio.sleep(0.1)  # let it die
            tags = await et.read_tags(photo)  # transparently restarted
            assert tags["Rating"] == 3
            stats = et.statistics()
            assert stats.pid not in (None, pid)
            assert stats.restarts == 1


async def test_process_dying_during_request_raises(test_assets: Path) -> None:
    photo = test_assets / "metadata/rating/mongolels.jpg"
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            await et.read_tags(photo)
            pid = et.statistics().pid
            assert pid is not None

            async def kill_soon() -> None:
                await trio.sleep(0.5)
                os.kill(pid, signal.SIGKILL)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(kill_soon)
                with pytest.raises(ExiftoolError, match="exited"):
                    # A Perl condition that sleeps: a request that never finishes on its own.
                    await et.execute("-if", "sleep(20); 1", "-json", os.fspath(photo))
            assert (await et.read_tags(photo))["Rating"] == 3


async def test_hung_request_hits_deadline_then_recovers(test_assets: Path) -> None:
    photo = test_assets / "metadata/rating/mongolels.jpg"
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            await et.read_tags(photo)
            pid = et.statistics().pid
            start = trio.current_time()
            with pytest.raises(trio.TooSlowError):
                with trio.fail_after(1):
                    await et.execute("-if", "sleep(20); 1", "-json", os.fspath(photo))
            assert trio.current_time() - start < 5  # killed, not waited for
            tags = await et.read_tags(photo)
            assert tags["Rating"] == 3
            assert et.statistics().pid != pid
            assert et.statistics().failures == 1


async def test_concurrent_requests_are_serialised(test_assets: Path) -> None:
    files = [
        test_assets / "metadata/rating/mongolels.jpg",
        test_assets / "metadata/tags/picasa.jpg",
        test_assets / "metadata/gps-position/thompson-springs.jpg",
    ]
    results: dict[int, str] = {}
    with trio.fail_after(CAP):
        async with open_exiftool() as et:

            async def one(i: int) -> None:
                tags = await et.read_tags(files[i % len(files)])
                results[i] = tags["FileName"]

            async with trio.open_nursery() as nursery:
                for i in range(30):
                    nursery.start_soon(one, i)
    assert all(results[i] == files[i % len(files)].name for i in range(30))


@pytest.fixture
def photos(test_assets: Path) -> list[Path]:
    return sorted(p for p in test_assets.rglob("*") if p.suffix.lower() in {".jpg", ".heic"})


async def test_many_sequential_requests(photos: list[Path]) -> None:
    files = photos
    count = 200
    with trio.fail_after(120):
        async with open_exiftool() as et:
            await et.version()  # exclude start-up
            start = time.perf_counter()
            for i in range(count):
                tags = await et.read_tags(files[i % len(files)])
                assert "FileSize" in tags
            elapsed = time.perf_counter() - start
            assert et.statistics().restarts == 0
    print(f"\nexiftool: {count} files in {elapsed:.2f} s, {elapsed / count * 1000:.1f} ms/file")
