"""Notification jobs through the real dispatcher on Trio's MockClock: the album update is
debounced (one notification per recipient five minutes after the last addition, none before;
a later change opens a new window), and a database backup that fails for good puts a
``JobFailed`` notification in the admin's bell with ``on_notification``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import trio
import trio.testing
from test_dispatcher import Script, Target, eventually, jump_and_poll, make_dispatcher, sql, start

from immich_trio.actors.dispatcher import Dispatcher, WallClock, trio_wall_clock
from immich_trio.actors.notifications import NotificationsActor
from immich_trio.sql import album_notices, events
from immich_trio.sql import jobs as q
from immich_trio.sql.pool import Pool, open_pool

DELAY = 300.0


@pytest.fixture
async def pool(db_url: str, mock_clock: trio.testing.MockClock) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


@pytest.fixture
async def wall(mock_clock: trio.testing.MockClock) -> WallClock:
    return trio_wall_clock(datetime(2026, 1, 1, tzinfo=UTC))


async def user(pool: Pool, name: str, *, admin: bool = False) -> str:
    [row] = await sql(pool, 'INSERT INTO "user" (email, password, name, "isAdmin") VALUES (%s, %s, %s, %s)'
                      " RETURNING id::text", (f"{name}@example.com", "x", name, admin))
    return str(row["id"])


async def updates_per_user(pool: Pool) -> dict[str, int]:
    rows = await sql(pool, "SELECT \"userId\"::text AS u, count(*) AS n FROM notification"
                     " WHERE type = 'AlbumUpdate' GROUP BY 1")
    return {row["u"]: int(row["n"]) for row in rows}


async def _equals(value: Awaitable[dict[str, int]], expected: dict[str, int]) -> bool:
    return await value == expected


async def add_media(pool: Pool, album: str, recipients: list[str], wall: WallClock) -> None:
    """What the album routes do when assets are added: queue (or push back) the update."""
    async with pool.connection() as conn, conn.transaction():
        await album_notices.enqueue_update(conn, album, recipients, wall())


async def run_until(clock: trio.testing.MockClock, dispatcher: Dispatcher, seconds: float) -> None:
    """Let ``seconds`` pass in steps of a few seconds, the dispatcher claiming at each."""
    while seconds > 0:
        step = min(seconds, 5.0)
        await jump_and_poll(clock, step, dispatcher)
        seconds -= step


async def test_album_update_is_debounced(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    alex, ana, bob = await user(pool, "alex"), await user(pool, "ana"), await user(pool, "bob")
    [row] = await sql(pool, "INSERT INTO album (\"albumName\") VALUES ('Summer') RETURNING id::text")
    album = str(row["id"])
    for member, role in ((alex, "owner"), (ana, "editor"), (bob, "viewer")):
        await sql(pool, 'INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)',
                  (album, member, role))
    worker = NotificationsActor(pool)
    dispatcher = make_dispatcher(pool, wall, "A")
    dispatcher.register("notifications", worker.address, concurrency=2)
    await start(nursery, worker, dispatcher)

    # three additions a minute apart, by alex then by ana
    await add_media(pool, album, [ana, bob], wall)
    await run_until(mock_clock, dispatcher, 60)
    await add_media(pool, album, [bob], wall)
    await run_until(mock_clock, dispatcher, 60)
    await add_media(pool, album, [alex, bob], wall)
    jobs = await sql(pool, "SELECT data FROM immich_trio.job WHERE name = 'NotifyAlbumUpdate'")
    assert len(jobs) == 1 and sorted(jobs[0]["data"]["recipientIds"]) == sorted([alex, ana, bob])

    await run_until(mock_clock, dispatcher, DELAY - 5)  # just short of five minutes after the last
    assert await updates_per_user(pool) == {}
    await run_until(mock_clock, dispatcher, 10)
    first = {alex: 1, ana: 1, bob: 1}
    await eventually(lambda: _equals(updates_per_user(pool), first), "the update job")

    # a later change opens a new window
    await run_until(mock_clock, dispatcher, 600)
    await add_media(pool, album, [ana], wall)
    await run_until(mock_clock, dispatcher, DELAY - 5)
    assert await updates_per_user(pool) == {alex: 1, ana: 1, bob: 1}
    await run_until(mock_clock, dispatcher, 10)
    second = {alex: 1, ana: 2, bob: 1}
    await eventually(lambda: _equals(updates_per_user(pool), second), "the second update job")
    await trio.testing.wait_all_tasks_blocked()
    assert await updates_per_user(pool) == second


def _listen(db_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(db_url, autocommit=True)
    conn.execute(f"LISTEN {events.CHANNEL}")
    return conn


async def test_failed_backup_notifies_the_admin(
    pool: Pool, db_url: str, wall: WallClock, nursery: trio.Nursery
) -> None:
    admin = await user(pool, "admin", admin=True)
    await user(pool, "ana")
    failing = Target("backup", Script(status="failed", error="pg_dump exited with 1"))
    dispatcher = make_dispatcher(pool, wall, "A")
    dispatcher.register("DatabaseBackup", failing.address)
    dispatcher.register("thumbnailGeneration", failing.address)
    listener = await trio.to_thread.run_sync(_listen, db_url)
    try:
        await start(nursery, failing, dispatcher)
        async with pool.connection() as conn, conn.transaction():
            await q.enqueue(conn, "backupDatabase", "DatabaseBackup", {}, max_attempts=1)
            await q.enqueue(conn, "thumbnailGeneration", "AssetGenerateThumbnails", {"id": admin}, max_attempts=1)
        await eventually(lambda: dispatcher.statistics().failed_jobs == 2, "both jobs failing for good")
        rows = await sql(pool, 'SELECT "userId"::text AS u, type, level, title, description FROM notification')
        assert rows == [{"u": admin, "type": "JobFailed", "level": "error", "title": "Job Failed",
                         "description": "Job DatabaseBackup failed with error: pg_dump exited with 1"}]
        notices = await trio.to_thread.run_sync(lambda: list(listener.notifies(timeout=2.0, stop_after=1)))
    finally:
        listener.close()
    [notice] = [events.decode(n.payload) for n in notices]
    assert notice is not None and notice.event == "on_notification" and notice.user_id == admin
    [dto] = notice.args
    assert dto["type"] == "JobFailed" and dto["description"].startswith("Job DatabaseBackup failed")
