"""The HLS streamer's timers on Trio's MockClock against a real database (no autojump: time
moves only when the test jumps): idle sessions are swept, leases renewed; and the
``HlsSessionCleanup`` job's removal of expired sessions."""

from __future__ import annotations

import time as real_time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio
import trio.lowlevel
import trio.testing

from immich_trio.actors.cleanup import CleanupActor
from immich_trio.actors.dispatcher import trio_wall_clock
from immich_trio.actors.video_stream.messages import SessionOpened
from immich_trio.actors.video_stream.plan import INACTIVITY_SECONDS, session_folder
from immich_trio.actors.video_stream.streamer import HlsStreamer
from immich_trio.jobs.names import JobName
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
BASE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REAL_TIMEOUT = 20.0


def _video(sql: Sql, owner: str) -> str:
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",'
        ' "fileCreatedAt", "fileModifiedAt", "localDateTime") VALUES (%s, \'VIDEO\', \'/nowhere/a.mp4\','
        " 'a.mp4', %s, 'sha1', %s, %s, %s) RETURNING id",
        (owner, uuid.uuid4().bytes[:20], BASE, BASE, BASE),
    )
    return str(asset_id)


def _session(sql: Sql, media: Path, owner: str, asset_id: str, expires_at: datetime) -> tuple[str, Path]:
    session_id = str(uuid.uuid4())
    sql('INSERT INTO video_stream_session (id, "assetId", "expiresAt") VALUES (%s, %s, %s)',
        (session_id, asset_id, expires_at))  # fmt: skip
    folder = session_folder(media, owner, session_id)
    (folder / "2").mkdir(parents=True)
    (folder / "2" / "seg_0.m4s").write_bytes(b"segment")
    return session_id, folder


async def _eventually(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    deadline = real_time.monotonic() + REAL_TIMEOUT
    while True:
        result = check()
        if await result if not isinstance(result, bool) else result:
            return
        if real_time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.testing.wait_all_tasks_blocked()
        await trio.lowlevel.checkpoint()


async def _settle() -> None:
    for _ in range(5):
        await trio.testing.wait_all_tasks_blocked()


async def test_a_session_nobody_plays_is_ended_after_five_idle_minutes(
    pool: Pool, sql: Sql, media: Path, owner: str, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    asset_id = _video(sql, owner)
    idle_id, idle_folder = _session(sql, media, owner, asset_id, BASE + timedelta(minutes=30))
    streamer = HlsStreamer(pool, media, now=trio_wall_clock(BASE))
    with trio.fail_after(REAL_TIMEOUT):
        await nursery.start(streamer.run)
    await streamer.address.send(
        SessionOpened(session_id=idle_id, asset_id=asset_id, owner_id=owner, expires_at=BASE + timedelta(minutes=30))
    )
    await _settle()
    mock_clock.jump(INACTIVITY_SECONDS - 1)  # the sweeps of minutes 1..4 find it still fresh
    await _settle()
    assert sql("SELECT id::text FROM video_stream_session") == [(idle_id,)]
    assert idle_folder.is_dir()

    mock_clock.jump(61)  # the next sweep: idle for more than five minutes
    await _eventually(lambda: sql("SELECT count(*) FROM video_stream_session") == [(0,)], "the row to go")
    await _eventually(lambda: not idle_folder.exists(), "the folder to go")
    assert streamer.extra_status() == {"sessions": 0, "transcodes": 0}


async def test_hls_session_cleanup_removes_expired_sessions_and_their_folders(
    pool: Pool, sql: Sql, media: Path, owner: str
) -> None:
    asset_id = _video(sql, owner)
    _, expired_folder = _session(sql, media, owner, asset_id, BASE - timedelta(seconds=1))
    live_id, live_folder = _session(sql, media, owner, asset_id, BASE + timedelta(minutes=10))
    actor = CleanupActor(pool, now=lambda: BASE, media=media)
    job = Job(id=1, queue="backgroundTask", name=JobName.HLS_SESSION_CLEANUP.value, data={}, attempt=1,
              max_attempts=3, created_at=BASE)  # fmt: skip
    with trio.fail_after(REAL_TIMEOUT):
        result = await actor.run_job(job)
    assert result.status == "success"
    assert sql("SELECT id::text FROM video_stream_session") == [(live_id,)]
    assert not expired_folder.exists()
    assert (live_folder / "2" / "seg_0.m4s").read_bytes() == b"segment"
    assert expired_folder.parent.is_dir()  # the owner's other sessions stay


async def test_stopping_the_streamer_ends_its_sessions(pool: Pool, sql: Sql, media: Path, owner: str) -> None:
    asset_id = _video(sql, owner)
    expires = datetime.now(UTC) + timedelta(minutes=30)
    session_id, folder = _session(sql, media, owner, asset_id, expires)
    streamer = HlsStreamer(pool, media)
    with trio.fail_after(REAL_TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(streamer.run)
            await streamer.address.send(
                SessionOpened(session_id=session_id, asset_id=asset_id, owner_id=owner, expires_at=expires)
            )
            streamer.request_stop()
    assert sql("SELECT count(*) FROM video_stream_session") == [(0,)]
    assert not folder.exists()
