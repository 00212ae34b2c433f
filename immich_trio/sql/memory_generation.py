"""The nightly memories: "on this day" generation and the cleanup (``MemoryGenerate``,
``MemoryCleanup``), as Immich's ``memory.service.ts`` runs them (behaviour.md §13).

Generation walks the target days from ``today - 3`` to ``today + 3`` (UTC) and skips those up to
``memories-state.lastOnThisDayDate``. One target day is one transaction: under Immich's
memory-creation lock it reads the state again, creates for every live user one ``on_this_day``
memory per past year with assets on that month and day (at most 20, ``timeline``, not trashed,
with a preview), and records the day. Two runs at once, or a run after a crash, never create a
memory twice, and a crash leaves no half-made day.

Immich asks PostgreSQL for ``make_date(year, 2, 29)`` in every year, which fails on 29 February
and makes no memory that day; here non-leap years are left out and leap years still count.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql import system_metadata

Conn = AsyncConnection[Any]

MEMORIES_STATE = "memories-state"
DAYS = 3
"""Immich generates this many days before and after today."""
ASSETS_PER_MEMORY = 20
MEMORY_CREATION_LOCK = 777
"""Immich's ``DatabaseLock.MemoryCreation``."""
CLEANUP_AFTER = timedelta(days=30)

LOCK = "SELECT pg_advisory_xact_lock(%s)"

FIRST_YEAR = """
SELECT min(("localDateTime" AT TIME ZONE 'UTC')::date) AS first FROM asset
"""

# One statement for all users and years of one target day: the expression index
# ``asset_localDateTime_idx`` finds the assets of each past date.
CREATE_DAY = """
WITH picked AS (
    SELECT a.id, a."ownerId" AS owner, (a."localDateTime" AT TIME ZONE 'UTC')::date AS day,
           row_number() OVER (PARTITION BY a."ownerId", (a."localDateTime" AT TIME ZONE 'UTC')::date
                              ORDER BY a."localDateTime", a.id) AS n
    FROM asset a
    JOIN "user" u ON u.id = a."ownerId" AND u."deletedAt" IS NULL
    WHERE (a."localDateTime" AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[])
      AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
      AND EXISTS (SELECT FROM asset_file f WHERE f."assetId" = a.id AND f.type = 'preview')
), chosen AS (
    SELECT id, owner, day, extract(year FROM day)::int AS year FROM picked WHERE n <= %(per)s
), made AS (
    INSERT INTO memory ("ownerId", type, data, "memoryAt", "showAt", "hideAt")
    SELECT owner, 'on_this_day', jsonb_build_object('year', year),
           day::timestamp AT TIME ZONE 'UTC', %(show)s, %(hide)s
    FROM chosen GROUP BY owner, day, year
    RETURNING id, "ownerId", (data ->> 'year')::int AS year
)
INSERT INTO memory_asset ("memoriesId", "assetId")
SELECT made.id, chosen.id FROM made JOIN chosen ON chosen.owner = made."ownerId" AND chosen.year = made.year
"""

CLEANUP_ASSETS = """
DELETE FROM memory_asset ma USING asset a
WHERE a.id = ma."assetId" AND a.visibility <> 'timeline'
"""

CLEANUP_MEMORIES = """
DELETE FROM memory WHERE "createdAt" < %s AND NOT "isSaved"
"""


def iso(moment: datetime) -> str:
    """Luxon's ``toISO()`` of a UTC date-time: ``2024-06-01T00:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.strftime('%m-%dT%H:%M:%S')}.{moment.microsecond // 1000:03d}Z"


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def target_days(today: date) -> list[datetime]:
    """The start (UTC) of each day from ``today - DAYS`` to ``today + DAYS``."""
    start = datetime.combine(today - timedelta(days=DAYS), time(), tzinfo=UTC)
    return [start + timedelta(days=i) for i in range(2 * DAYS + 1)]


def past_dates(target: date, first_year: int) -> list[date]:
    """The same month and day in each year from ``first_year`` to last year (one that has it)."""
    return [
        date(year, target.month, target.day)
        for year in range(first_year, target.year)
        if target.month != 2 or target.day != 29 or calendar.isleap(year)
    ]


async def _state(conn: Conn) -> dict[str, Any]:
    value = await system_metadata.get(conn, MEMORIES_STATE)
    return dict(value) if isinstance(value, dict) else {}


async def _create_day(conn: Conn, target: datetime) -> None:
    """Memories of every live user for ``target``."""
    cur = await conn.execute(FIRST_YEAR)
    row = await cur.fetchone()
    first: date | None = row["first"] if row else None
    if first is None:
        return
    days = past_dates(target.date(), first.year)
    if not days:
        return
    show = target
    hide = target + timedelta(days=1) - timedelta(milliseconds=1)
    await conn.execute(CREATE_DAY, {"days": days, "per": ASSETS_PER_MEMORY, "show": show, "hide": hide})


async def generate(conn: Conn, today: date) -> list[date]:
    """Run ``MemoryGenerate`` for ``today`` (UTC); the target days it made memories for.

    ``conn`` must not be in a transaction: each target day commits on its own."""
    done: list[date] = []
    for target in target_days(today):
        async with conn.transaction():
            await conn.execute(LOCK, (MEMORY_CREATION_LOCK,))
            state = await _state(conn)
            last = _parse(state.get("lastOnThisDayDate")) or target_days(today)[0]
            if last >= target:
                continue
            await _create_day(conn, target)
            await system_metadata.set_value(
                conn, MEMORIES_STATE, {**state, "lastOnThisDayDate": iso(target)}
            )
        done.append(target.date())
    return done


async def cleanup(conn: Conn, now: datetime) -> None:
    """Run ``MemoryCleanup``: memories lose their non-timeline assets, and unsaved memories made
    more than 30 days before ``now`` go."""
    await conn.execute(CLEANUP_ASSETS)
    await conn.execute(CLEANUP_MEMORIES, (now - CLEANUP_AFTER,))
