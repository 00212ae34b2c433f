"""A memory generation that fails or is cancelled in the middle of a day leaves nothing of that
day behind, and the next run completes it: exactly the memories of a clean run, none twice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import trio

from immich_trio.sql import memory_generation as gen
from immich_trio.sql.pool import Pool
from tests.actors.test_memories_job import MEMORIES, TODAY, Sql, asset, at, user

STATE = "SELECT value FROM system_metadata WHERE key = 'memories-state'"
CRASH_DAY = date(2024, 6, 2)


class Crash(Exception):
    pass


def library(sql: Sql) -> None:
    """Two users with assets on several target days and years."""
    alex, bo = user(sql, "alex@example.com"), user(sql, "bo@example.com")
    for year in (2019, 2020, 2022):
        for day in (31,):
            asset(sql, alex, at(year, 5, day))
        for day in (1, 2, 3):
            asset(sql, alex, at(year, 6, day))
            asset(sql, alex, at(year, 6, day, 18))
            asset(sql, bo, at(year, 6, day, 9))
    asset(sql, alex, at(2018, 5, 29))  # the first year, and a day already behind a first run


async def generate(pool: Pool) -> list[date]:
    async with pool.connection() as conn:
        return await gen.generate(conn, TODAY)


async def clean_run(pool: Pool, sql: Sql) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The memories and state of an uninterrupted run; then forgets them."""
    await generate(pool)
    memories, state = sql(MEMORIES), sql(STATE)
    assert any(row[3].endswith("06-02") for row in memories)  # the crash day makes memories
    sql("DELETE FROM memory")
    sql("DELETE FROM system_metadata WHERE key = 'memories-state'")
    assert sql("SELECT count(*) FROM memory_asset") == [(0,)]
    return memories, state


def made_on(memories: list[tuple[Any, ...]], before: date) -> list[tuple[Any, ...]]:
    """The memories of the target days before ``before`` (``showAt`` is the target day)."""
    cut = datetime(before.year, before.month, before.day, tzinfo=UTC)
    return [row for row in memories if row[4] < cut]


async def test_a_failure_after_the_insert_rolls_the_day_back_and_the_next_run_completes(
    pool: Pool, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    library(sql)
    clean, clean_state = await clean_run(pool, sql)
    real = gen._create_day

    async def fail_after_insert(conn: gen.Conn, target: datetime) -> None:
        await real(conn, target)
        if target.date() == CRASH_DAY:
            assert (await (await conn.execute("SELECT count(*) AS n FROM memory")).fetchone())["n"] > len(
                made_on(clean, CRASH_DAY)
            )  # the day's memories were written in the transaction
            raise Crash

    monkeypatch.setattr(gen, "_create_day", fail_after_insert)
    with pytest.raises(Crash):
        await generate(pool)
    # The days before committed with their progress; nothing of the crashed day is left.
    assert sql(MEMORIES) == made_on(clean, CRASH_DAY)
    assert sql(STATE) == [({"lastOnThisDayDate": "2024-06-01T00:00:00.000Z"},)]

    monkeypatch.setattr(gen, "_create_day", real)
    assert await generate(pool) == [date(2024, 6, d) for d in (2, 3, 4)]
    assert sql(MEMORIES) == clean and sql(STATE) == clean_state
    assert await generate(pool) == []  # and again: nothing twice
    assert sql(MEMORIES) == clean


async def test_a_cancelled_run_in_the_middle_of_a_day_leaves_no_half_day(
    pool: Pool, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    library(sql)
    clean, clean_state = await clean_run(pool, sql)
    real = gen._create_day
    inserted = trio.Event()

    async def hang_after_insert(conn: gen.Conn, target: datetime) -> None:
        await real(conn, target)
        if target.date() == CRASH_DAY:
            inserted.set()
            await trio.sleep_forever()

    monkeypatch.setattr(gen, "_create_day", hang_after_insert)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(generate, pool)  # a lost lease or a shutdown cancels the job
        with trio.fail_after(30):
            await inserted.wait()
        nursery.cancel_scope.cancel()
    assert sql(MEMORIES) == made_on(clean, CRASH_DAY)
    assert sql(STATE) == [({"lastOnThisDayDate": "2024-06-01T00:00:00.000Z"},)]

    monkeypatch.setattr(gen, "_create_day", real)
    await generate(pool)
    assert sql(MEMORIES) == clean and sql(STATE) == clean_state
