"""The nightly memories on fixed dates: "on this day" generation (Immich's rules, idempotent,
progress in ``memories-state``), the cleanup, and both run for real through ``POST /jobs``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from media_harness import LIMIT, ML_OFF, Server, free_port, make_user, run_sql, wait_for

from immich_trio.config import Settings
from immich_trio.sql import memory_generation as gen
from immich_trio.sql.pool import Pool
from immich_trio.supervision_tree import build_tree, make_media_folders

Sql = Callable[..., list[tuple[Any, ...]]]

TODAY = date(2024, 6, 1)
NOW = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
MEMORIES = """
SELECT "ownerId"::text, type, data, to_char("memoryAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       "showAt", "hideAt", (SELECT array_agg("assetId"::text ORDER BY "assetId")
                            FROM memory_asset WHERE "memoriesId" = m.id)
FROM memory m ORDER BY "showAt", "ownerId", "memoryAt"
"""


def user(sql: Sql, email: str) -> str:
    [(user_id,)] = sql('INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                       (email, "x", email))  # fmt: skip
    return str(user_id)


def asset(sql: Sql, owner: str, when: datetime, *, visibility: str = "timeline",
          deleted: bool = False, preview: bool = True) -> str:  # fmt: skip
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "deletedAt",'
        ' status, visibility) VALUES (%s, %s, \'IMAGE\', %s, \'a.jpg\', %s, \'sha1\', %s, %s, %s, %s, %s, %s)',
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], when, when, when,
         when if deleted else None, "trashed" if deleted else "active", visibility),
    )  # fmt: skip
    if preview:
        sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)',
            (asset_id, "preview", f"/nowhere/{asset_id}.webp"))  # fmt: skip
    return asset_id


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def test_on_this_day_rules_and_a_second_run_adds_nothing(pool: Pool, sql: Sql) -> None:
    alex, bo = user(sql, "alex@example.com"), user(sql, "bo@example.com")
    y2020 = asset(sql, alex, at(2020, 6, 1))
    y2021 = asset(sql, alex, at(2021, 6, 1, 23))
    asset(sql, alex, at(2021, 6, 1), visibility="archive")
    asset(sql, alex, at(2021, 6, 1), visibility="hidden")
    asset(sql, alex, at(2021, 6, 1), visibility="locked")
    asset(sql, alex, at(2022, 6, 1), deleted=True)
    asset(sql, alex, at(2018, 6, 1), preview=False)
    asset(sql, alex, at(2024, 6, 1))  # this year: no memory
    june2 = asset(sql, alex, at(2019, 6, 2))
    bo2020 = asset(sql, bo, at(2020, 6, 1, 1))
    asset(sql, alex, at(2017, 5, 29))  # the first target day is already "done" on a first run
    async with pool.connection() as conn:
        done = await gen.generate(conn, TODAY)
    assert done == [TODAY + timedelta(days=i) for i in range(-2, 4)]
    end = timedelta(days=1) - timedelta(milliseconds=1)
    june1 = start(TODAY)
    first_day = sorted([
        (alex, "on_this_day", {"year": 2020}, "2020-06-01", june1, june1 + end, [y2020]),
        (alex, "on_this_day", {"year": 2021}, "2021-06-01", june1, june1 + end, [y2021]),
        (bo, "on_this_day", {"year": 2020}, "2020-06-01", june1, june1 + end, [bo2020]),
    ], key=lambda r: (r[0], r[3]))  # fmt: skip
    june2_start = start(date(2024, 6, 2))
    expected = [
        *first_day,
        (alex, "on_this_day", {"year": 2019}, "2019-06-02", june2_start, june2_start + end, [june2]),
    ]
    assert sql(MEMORIES) == expected
    [(state,)] = sql("SELECT value FROM system_metadata WHERE key = 'memories-state'")
    assert state == {"lastOnThisDayDate": "2024-06-04T00:00:00.000Z"}
    async with pool.connection() as conn:
        assert await gen.generate(conn, TODAY) == []
        assert await gen.generate(conn, TODAY + timedelta(days=1)) == [date(2024, 6, 5)]
    assert sql(MEMORIES) == expected


def test_29_february_counts_only_leap_years() -> None:
    assert gen.past_dates(date(2024, 2, 29), 2015) == [date(2016, 2, 29), date(2020, 2, 29)]
    assert gen.past_dates(date(2024, 3, 1), 2022) == [date(2022, 3, 1), date(2023, 3, 1)]
    assert gen.iso(datetime(2024, 6, 4, tzinfo=UTC)) == "2024-06-04T00:00:00.000Z"


async def test_cleanup_drops_old_unsaved_memories_and_non_timeline_assets(pool: Pool, sql: Sql) -> None:
    alex = user(sql, "alex@example.com")
    kept, archived = asset(sql, alex, at(2020, 6, 1)), asset(sql, alex, at(2020, 6, 1), visibility="archive")
    ids = {}
    for name, created, saved in (("old", NOW - timedelta(days=31), False), ("saved", NOW - timedelta(days=31), True),
                                 ("new", NOW - timedelta(days=29), False)):  # fmt: skip
        [(ids[name],)] = sql(
            'INSERT INTO memory ("ownerId", type, data, "memoryAt", "createdAt", "isSaved")'
            " VALUES (%s, 'on_this_day', '{\"year\": 2020}', %s, %s, %s) RETURNING id",
            (alex, at(2020, 6, 1), created, saved),
        )
    for asset_id in (kept, archived):
        sql('INSERT INTO memory_asset ("memoriesId", "assetId") VALUES (%s, %s)', (ids["new"], asset_id))
    async with pool.connection() as conn:
        await gen.cleanup(conn, NOW)
    assert sorted(sql("SELECT id FROM memory")) == sorted([(ids["saved"],), (ids["new"],)])
    assert sql('SELECT "assetId"::text FROM memory_asset') == [(kept,)]


@pytest.fixture
async def fixed_server(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    """The whole tree with its wall clock stopped at ``NOW``."""
    port = free_port()
    # Machine learning off: no model on these machines, and these tests watch the job table.
    run_sql(db_url, ML_OFF)
    settings = Settings(host="127.0.0.1", port=port, media_location=tmp_path / "media", db_url=db_url,
                        reverse_geocoding_import=False)
    make_media_folders(settings)
    root, runtime = build_tree(settings, Pool(db_url), now=lambda: NOW, timers=False)
    with trio.fail_after(LIMIT):
        await nursery.start(root.run)
    yield Server(runtime=runtime, base=f"http://127.0.0.1:{port}", db_url=db_url)
    with trio.fail_after(LIMIT):
        await root.shutdown()


async def test_memory_create_and_cleanup_run_as_jobs(fixed_server: Server, sql: Sql) -> None:
    admin = make_user(fixed_server.db_url, "admin@example.com", is_admin=True)
    owned = asset(sql, admin.id, at(2020, 6, 1))
    headers = {"Authorization": f"Bearer {admin.token}"}
    async with httpx.AsyncClient(base_url=fixed_server.base, headers=headers) as http:
        r = await http.post("/api/jobs", json={"name": "memory-create"})
        assert r.status_code == 204, r.text
        count = 'SELECT count(*) FROM memory_asset WHERE "assetId" = %s'
        await wait_for(fixed_server, count, (owned,), [(1,)])
        await wait_for(fixed_server, "SELECT count(*) FROM immich_trio.job", (), [(0,)])
        sql("UPDATE memory SET \"createdAt\" = %s", (NOW - timedelta(days=40),))
        r = await http.post("/api/jobs", json={"name": "memory-cleanup"})
        assert r.status_code == 204, r.text
        await wait_for(fixed_server, "SELECT count(*) FROM memory", (), [(0,)])
