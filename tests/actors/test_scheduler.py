"""The nightly scheduler on Trio's MockClock against a real database (no autojump: time moves
only when a test jumps, so the sockets to PostgreSQL keep working)."""

from __future__ import annotations

import json
import time as real_time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.lowlevel
import trio.testing

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import trio_wall_clock
from immich_trio.actors.scheduler import NightlyScheduler, nightly_jobs
from immich_trio.jobs.names import JobName
from immich_trio.sql.pool import Pool, open_pool

BERLIN = ZoneInfo("Europe/Berlin")
REAL_TIMEOUT = 20.0
ALL_NIGHTLY = {
    "AssetDeleteCheck", "UserDeleteCheck", "PersonCleanup", "MemoryCleanup", "SessionCleanup",
    "HlsSessionCleanup", "AuditTableCleanup", "MemoryGenerate", "UserSyncUsage",
    "AssetGenerateThumbnailsQueueAll", "FacialRecognitionQueueAll",
}


@pytest.fixture
async def pool(db_url: str, mock_clock: trio.testing.MockClock) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


async def query(pool: Pool, sql: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, params)
        return list(await cur.fetchall()) if cur.description else []


async def save_config(pool: Pool, partial: dict[str, Any]) -> sysconfig.Config:
    await query(
        pool,
        "INSERT INTO system_metadata (key, value) VALUES (%s, %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (sysconfig.KEY, json.dumps(partial)),
    )
    async with pool.connection() as conn:
        return await sysconfig.load(conn)


async def nights(pool: Pool) -> int:
    """How many nights were queued (one MemoryGenerate each)."""
    rows = await query(pool, "SELECT count(*) AS n FROM immich_trio.job WHERE name = 'MemoryGenerate'")
    return int(rows[0]["n"])


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = real_time.monotonic() + REAL_TIMEOUT
    while not await check():
        if real_time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.testing.wait_all_tasks_blocked()
        await trio.lowlevel.checkpoint()


async def settle() -> None:
    for _ in range(5):
        await trio.testing.wait_all_tasks_blocked()


async def start(pool: Pool, nursery: trio.Nursery, base: datetime) -> NightlyScheduler:
    scheduler = NightlyScheduler(pool, now=trio_wall_clock(base), zone=BERLIN)
    with trio.fail_after(REAL_TIMEOUT):
        await nursery.start(scheduler.run)
    await settle()
    return scheduler


async def jump_until_run(
    clock: trio.testing.MockClock, scheduler: NightlyScheduler, pool: Pool, seconds: float, count: int
) -> None:
    clock.jump(seconds)
    await eventually(lambda: _nights_are(pool, count), f"{count} nights queued")


async def _nights_are(pool: Pool, count: int) -> bool:
    return await nights(pool) == count


async def test_runs_at_the_start_time_across_midnight_and_spring_forward(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"nightlyTasks": {"startTime": "02:30"}})
    # 28 March 2026, 23:00 UTC = midnight in Berlin; the clocks spring forward at 02:00 CET
    scheduler = await start(pool, nursery, datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert scheduler.statistics().next_run == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)

    mock_clock.jump(2 * 3600 - 1)  # 00:59:59 UTC, one second before the end of the gap
    await settle()
    assert await nights(pool) == 0
    await jump_until_run(mock_clock, scheduler, pool, 1, 1)
    names = {r["name"] for r in await query(pool, "SELECT name FROM immich_trio.job")}
    assert names == ALL_NIGHTLY
    [thumbs] = await query(
        pool, "SELECT data FROM immich_trio.job WHERE name = 'AssetGenerateThumbnailsQueueAll'"
    )
    assert thumbs["data"] == {"force": False}
    await eventually(
        lambda: _next_is(scheduler, datetime(2026, 3, 30, 0, 30, tzinfo=UTC)), "the next night"
    )
    assert scheduler.statistics().runs == 1

    mock_clock.jump(23 * 3600 + 30 * 60 - 1)  # one second before 02:30 CEST on the 30th
    await settle()
    assert await nights(pool) == 1
    await jump_until_run(mock_clock, scheduler, pool, 1, 2)


async def _next_is(scheduler: NightlyScheduler, when: datetime) -> bool:
    await trio.lowlevel.checkpoint()
    return scheduler.statistics().next_run == when


async def test_fall_back_runs_once(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"nightlyTasks": {"startTime": "02:30"}})
    # 25 October 2026: 02:30 CEST (00:30 UTC) and again 02:30 CET (01:30 UTC)
    scheduler = await start(pool, nursery, datetime(2026, 10, 25, 0, 0, tzinfo=UTC))
    await jump_until_run(mock_clock, scheduler, pool, 30 * 60, 1)
    mock_clock.jump(3600)  # the second 02:30
    await settle()
    mock_clock.jump(60)
    await settle()
    assert await nights(pool) == 1
    await eventually(
        lambda: _next_is(scheduler, datetime(2026, 10, 26, 1, 30, tzinfo=UTC)), "the next night"
    )


async def test_a_new_start_time_counts_from_the_next_run(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    # noon in Berlin (winter), default start 00:00: due at 23:00 UTC
    scheduler = await start(pool, nursery, datetime(2026, 1, 10, 11, 0, tzinfo=UTC))
    assert scheduler.statistics().next_run == datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
    mock_clock.jump(3600)  # 13:00 local
    await settle()
    # the admin moves the start to 14:00; the config watch hands it to the listeners
    sysconfig.tell_listeners(await save_config(pool, {"nightlyTasks": {"startTime": "14:00"}}))
    await eventually(
        lambda: _next_is(scheduler, datetime(2026, 1, 10, 13, 0, tzinfo=UTC)), "the new time"
    )
    await jump_until_run(mock_clock, scheduler, pool, 3600, 1)
    # moved earlier than now: not again today, tomorrow at the new time
    sysconfig.tell_listeners(await save_config(pool, {"nightlyTasks": {"startTime": "13:30"}}))
    await eventually(
        lambda: _next_is(scheduler, datetime(2026, 1, 11, 12, 30, tzinfo=UTC)), "tomorrow"
    )
    assert await nights(pool) == 1


async def test_a_restart_after_the_start_time_waits_for_tomorrow(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"nightlyTasks": {"startTime": "02:30"}})
    base = datetime(2026, 1, 10, 1, 29, tzinfo=UTC)  # 02:29 local
    first = NightlyScheduler(pool, now=trio_wall_clock(base), zone=BERLIN)
    async with trio.open_nursery() as inner:
        with trio.fail_after(REAL_TIMEOUT):
            await inner.start(first.run)
        await settle()
        await jump_until_run(mock_clock, first, pool, 60, 1)
        inner.cancel_scope.cancel()  # the process stops right after the run
    # it comes back at 02:31 local, after today's start: Immich's cron waits for tomorrow
    second = await start(pool, nursery, base + timedelta(minutes=2))
    assert second.statistics().next_run == datetime(2026, 1, 11, 1, 30, tzinfo=UTC)
    assert await nights(pool) == 1


async def test_a_night_already_queued_is_not_queued_again(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """Two processes (or a restart at the very start instant) share one record of the night."""
    await save_config(pool, {"nightlyTasks": {"startTime": "02:30"}})
    base = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    a = await start(pool, nursery, base)
    b = await start(pool, nursery, base)
    mock_clock.jump(30 * 60)
    await eventually(lambda: _nights_are(pool, 1), "one night queued")
    await eventually(
        lambda: _next_is(a, datetime(2026, 1, 11, 1, 30, tzinfo=UTC)), "a moved on"
    )
    await eventually(
        lambda: _next_is(b, datetime(2026, 1, 11, 1, 30, tzinfo=UTC)), "b moved on"
    )
    assert await nights(pool) == 1


def test_the_toggles_choose_the_jobs() -> None:
    config = sysconfig.defaults()
    assert {name.value for name, _ in nightly_jobs(config)} == ALL_NIGHTLY
    config["nightlyTasks"] = {
        "startTime": "00:00", "databaseCleanup": False, "generateMemories": True,
        "syncQuotaUsage": False, "missingThumbnails": False, "clusterNewFaces": True,
    }
    assert nightly_jobs(config) == [
        (JobName.MEMORY_GENERATE, {}),
        (JobName.FACIAL_RECOGNITION_QUEUE_ALL, {"force": False, "nightly": True}),
    ]
    config["nightlyTasks"]["clusterNewFaces"] = False
    assert nightly_jobs(config) == [(JobName.MEMORY_GENERATE, {})]
