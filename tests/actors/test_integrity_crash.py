"""An integrity scan that crashes after some batches leaves no report rows of a batch that did
not commit, and the next run (its jobs claimed again once their leases run out) completes the
report: the same report set as a clean run.

The dispatcher and the integrity actor run under a supervisor on the real job table; the
leases run on an injected wall clock that the test moves, never on real time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.integrity import IntegrityActor
from immich_trio.actors.integrity import actor as integrity_actor
from immich_trio.actors.integrity.actor import JOBS
from immich_trio.jobs.names import JobName
from immich_trio.reactor import Supervisor
from immich_trio.sql import integrity as q
from immich_trio.sql.jobs.enqueue import enqueue_job
from immich_trio.sql.pool import open_pool

Sql = Callable[..., list[tuple[Any, ...]]]
LIMIT = 60
POLL = 0.05
BATCH = 4
LEASE = 30.0
REPORTS = "SELECT type, path FROM integrity_report ORDER BY path"
JOBS_LEFT = "SELECT name, data FROM immich_trio.job ORDER BY id"


class Clock:
    """The dispatcher's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.moment = datetime(2024, 6, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def stray_files(media: Path) -> list[str]:
    """Three batches of files on disk that no asset knows."""
    folder = media / "upload" / "someone" / "ab"
    folder.mkdir(parents=True)
    paths = []
    for i in range(3 * BATCH):
        path = folder / f"stray-{i:02d}.jpg"
        path.write_bytes(b"x%d" % i)
        paths.append(str(path))
    return paths


async def run_scan(db_url: str, media: Path, clock: Clock, *, until: Callable[[], bool]) -> None:
    """Start a dispatcher and the integrity actor (a fresh process) and stop them abruptly,
    as a crash would, once ``until()`` holds."""
    async with open_pool(db_url) as pool, trio.open_nursery() as nursery:
        tree = Supervisor("integrity-test")
        dispatcher = Dispatcher(pool, clock=clock, lease=LEASE, follow_config=False)
        worker = IntegrityActor(pool, media)
        tree.add_actor(dispatcher)
        tree.add_actor(worker)
        for job in JOBS:
            dispatcher.register(job, worker.address)
        await nursery.start(tree.run)
        for _ in range(int(LIMIT / POLL)):
            if await trio.to_thread.run_sync(until):
                break
            await trio.sleep(POLL)
        else:
            raise AssertionError("the scan never got there")
        nursery.cancel_scope.cancel()  # no release of running jobs: their leases just expire


async def queue_scan(db_url: str) -> None:
    async with open_pool(db_url) as pool, pool.connection() as conn, conn.transaction():
        await enqueue_job(conn, JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, {})


async def test_a_crash_between_batches_leaves_whole_batches_and_the_next_run_completes(
    db_url: str, sql: Sql, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity_actor, "BATCH", BATCH)
    strays = stray_files(media)
    clock = Clock()

    # A clean run: the report set to compare with.
    await queue_scan(db_url)
    await run_scan(db_url, media, clock, until=lambda: sql(JOBS_LEFT) == [])
    clean = sql(REPORTS)
    assert clean == [("untracked_file", p) for p in strays]
    sql("DELETE FROM integrity_report")

    # A run that dies in the middle of writing its second batch's reports.
    real_upsert = q.upsert
    calls = 0
    hanging = trio.Event()

    async def upsert_then_hang(conn: q.Conn, kind: str, paths: Any, **kw: Any) -> None:
        nonlocal calls
        await real_upsert(conn, kind, paths, **kw)
        calls += 1
        if calls == 2:  # the rows are written, the transaction not committed
            hanging.set()
            await trio.sleep_forever()

    monkeypatch.setattr(q, "upsert", upsert_then_hang)
    await queue_scan(db_url)
    await run_scan(db_url, media, clock, until=hanging.is_set)

    # Only whole batches are reported: those whose job is gone (committed with its rows).
    left = [data["paths"] for name, data in sql(JOBS_LEFT) if name == "IntegrityUntrackedFiles"]
    assert left, "the crashed batch is still queued"
    unfinished = {p for paths in left for p in paths}
    reported = {path for _, path in sql(REPORTS)}
    assert reported and reported == set(strays) - unfinished
    assert len(reported) % BATCH == 0  # no batch half written

    # The next run, once the dead process's leases have run out, completes the report.
    monkeypatch.setattr(q, "upsert", real_upsert)
    clock.moment += timedelta(seconds=LEASE + 1)
    await run_scan(db_url, media, clock, until=lambda: sql(JOBS_LEFT) == [])
    assert sql(REPORTS) == clean
