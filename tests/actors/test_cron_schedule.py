"""The config's cron timers (integrity checks, database backup) on Trio's MockClock against a real database (no autojump:
time moves only when a test jumps, so the sockets to PostgreSQL keep working)."""

from __future__ import annotations

import json
import time as real_time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.lowlevel
import trio.testing

from immich_trio import sysconfig
from immich_trio.actors.cron_schedule import CronSchedule
from immich_trio.actors.dispatcher import trio_wall_clock
from immich_trio.sql.pool import Pool, open_pool

BERLIN = ZoneInfo("Europe/Berlin")
REAL_TIMEOUT = 20.0
CONFIG = {
    "integrityChecks": {
        "missingFiles": {"enabled": True, "cronExpression": "0 03 * * *"},
        "untrackedFiles": {"enabled": False, "cronExpression": "0 03 * * *"},
        "checksumFiles": {"enabled": True, "cronExpression": "30 04 * * 1"},  # Mondays
    },
    "backup": {"database": {"enabled": False}},
    "library": {"scan": {"enabled": False}},
}


@pytest.fixture
async def pool(db_url: str, mock_clock: trio.testing.MockClock) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


async def jobs(pool: Pool) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT name FROM immich_trio.job ORDER BY id")
        return [row["name"] for row in await cur.fetchall()]


async def save_config(pool: Pool, partial: dict[str, Any]) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (sysconfig.KEY, json.dumps(partial)),
        )


async def settle() -> None:
    for _ in range(5):
        await trio.testing.wait_all_tasks_blocked()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = real_time.monotonic() + REAL_TIMEOUT
    while not await check():
        if real_time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.testing.wait_all_tasks_blocked()
        await trio.lowlevel.checkpoint()


async def start(pool: Pool, nursery: trio.Nursery, base: datetime) -> CronSchedule:
    schedule = CronSchedule(pool, now=trio_wall_clock(base), zone=BERLIN)
    with trio.fail_after(REAL_TIMEOUT):
        await nursery.start(schedule.run)
    await settle()
    return schedule


async def test_each_check_is_queued_at_its_cron_instant_once(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, CONFIG)
    # Sunday 7 June 2026, 02:59:59 in Berlin (CEST); two processes run the timers
    base = datetime(2026, 6, 7, 0, 59, 59, tzinfo=UTC)
    a = await start(pool, nursery, base)
    b = await start(pool, nursery, base)
    assert await jobs(pool) == []

    mock_clock.jump(1)  # 03:00:00
    await eventually(lambda: _jobs_are(pool, ["IntegrityMissingFilesQueueAll"]), "the missing-files check")
    await eventually(lambda: _runs_are(a, b, 1), "both timers passed the instant")
    for _ in range(3):
        mock_clock.jump(60)
        await settle()
    assert await jobs(pool) == ["IntegrityMissingFilesQueueAll"]

    # Monday 8 June: 03:00 the missing-files check again, 04:30 the checksums
    mock_clock.jump(24 * 3600 - 180)
    await eventually(lambda: _jobs_are(pool, ["IntegrityMissingFilesQueueAll"] * 2), "the next day")
    mock_clock.jump(90 * 60)
    await eventually(
        lambda: _jobs_are(pool, ["IntegrityMissingFilesQueueAll"] * 2 + ["IntegrityChecksumFiles"]),
        "the checksum check",
    )
    mock_clock.jump(3600)
    await settle()
    assert "IntegrityUntrackedFilesQueueAll" not in await jobs(pool)


async def test_a_disabled_check_is_not_queued(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    checks = {name: {"enabled": False} for name in ("missingFiles", "untrackedFiles", "checksumFiles")}
    await save_config(
        pool, {"integrityChecks": checks, "backup": {"database": {"enabled": False}}, "library": NO_SCAN}
    )
    await start(pool, nursery, datetime(2026, 6, 7, 0, 59, 0, tzinfo=UTC))
    for _ in range(4):
        mock_clock.jump(3600)
        await settle()
    assert await jobs(pool) == []


async def _jobs_are(pool: Pool, expected: list[str]) -> bool:
    return await jobs(pool) == expected


async def _runs_are(a: CronSchedule, b: CronSchedule, count: int) -> bool:
    await trio.lowlevel.checkpoint()
    return a.runs + b.runs == count


NO_CHECKS = {name: {"enabled": False} for name in ("missingFiles", "untrackedFiles", "checksumFiles")}
NO_SCAN = {"scan": {"enabled": False}}


async def test_the_database_backup_is_queued_nightly_by_default(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"integrityChecks": NO_CHECKS, "library": NO_SCAN})
    # Sunday 7 June 2026, 01:59:59 in Berlin: the default expression is 0 02 * * *
    a = await start(pool, nursery, datetime(2026, 6, 6, 23, 59, 59, tzinfo=UTC))
    b = await start(pool, nursery, datetime(2026, 6, 6, 23, 59, 59, tzinfo=UTC))
    mock_clock.jump(1)
    await eventually(lambda: _jobs_are(pool, ["DatabaseBackup"]), "the nightly backup")
    await eventually(lambda: _runs_are(a, b, 1), "both timers passed the instant")
    mock_clock.jump(23 * 3600)
    await settle()
    assert await jobs(pool) == ["DatabaseBackup"]
    mock_clock.jump(3600)  # Monday 02:00
    await eventually(lambda: _jobs_are(pool, ["DatabaseBackup"] * 2), "the next night's backup")


async def test_the_backup_follows_its_own_expression_and_switch(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    backup = {"enabled": True, "cronExpression": "30 01 * * *"}
    await save_config(pool, {"integrityChecks": NO_CHECKS, "backup": {"database": backup}})
    await start(pool, nursery, datetime(2026, 6, 6, 23, 29, 59, tzinfo=UTC))  # 01:29:59 Berlin
    mock_clock.jump(1)
    await eventually(lambda: _jobs_are(pool, ["DatabaseBackup"]), "the backup at 01:30")


async def test_a_disabled_backup_is_not_queued(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"integrityChecks": NO_CHECKS, "backup": {"database": {"enabled": False}}})
    await start(pool, nursery, datetime(2026, 6, 6, 23, 0, 0, tzinfo=UTC))
    for _ in range(4):
        mock_clock.jump(3600)
        await settle()
    assert await jobs(pool) == []


async def test_the_library_scan_is_queued_at_midnight_by_default(
    pool: Pool, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"integrityChecks": NO_CHECKS, "backup": {"database": {"enabled": False}}})
    # Sunday 7 June 2026, 23:59:59 in Berlin: Immich's default library.scan is 0 0 * * *
    await start(pool, nursery, datetime(2026, 6, 7, 21, 59, 59, tzinfo=UTC))
    mock_clock.jump(1)
    await eventually(lambda: _jobs_are(pool, ["LibraryScanQueueAll"]), "the nightly library scan")
    mock_clock.jump(23 * 3600)
    await settle()
    assert await jobs(pool) == ["LibraryScanQueueAll"]
    mock_clock.jump(3600)  # the next midnight
    await eventually(lambda: _jobs_are(pool, ["LibraryScanQueueAll"] * 2), "the next night's scan")
