"""The dispatcher against a real database on Trio's MockClock (no autojump: time passes only
when a test calls ``mock_clock.jump``, so real sockets to PostgreSQL keep working)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from immich_trio import sysconfig
from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.dispatcher import Dispatcher, JobResult, RunJob, trio_wall_clock
from immich_trio.actors.queue_all import HANDLED, QueueAllActor
from immich_trio.reactor import Actor, Backoff
from immich_trio.sql import jobs as q
from immich_trio.sql.pool import Pool, open_pool

THUMBS = "thumbnailGeneration"
LEASE = 30.0
REAL_TIMEOUT = 20.0

WallClock = Callable[[], datetime]


@attrs.define
class Script:
    """How the test target answers: block until released, then success or failure."""

    block: bool = False
    status: str = "success"
    error: str | None = None
    raise_error: bool = False


class Target(Actor[RunJob]):
    """A worker whose behaviour the test scripts; it records what it was given."""

    concurrency = 10
    inbox_capacity = 0

    def __init__(self, name: str, script: Script | None = None) -> None:
        super().__init__(name=name)
        self.script = script or Script()
        self.received: list[RunJob] = []
        self.release = trio.Event()

    async def handle(self, msg: RunJob) -> None:
        self.received.append(msg)
        if self.script.block:
            await self.release.wait()
        if self.script.raise_error:
            raise RuntimeError(self.script.error or "exploded")
        job_id = msg.job.id

        async def apply(conn: Any) -> None:
            await conn.execute("INSERT INTO applied (job_id) VALUES (%s)", (job_id,))

        msg.reply_to.send(
            JobResult(status=self.script.status, error=self.script.error, apply=apply)  # type: ignore[arg-type]
        )


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str = "condition") -> None:
    """Wait (in real time, capped) until ``check`` holds; MockClock time does not move."""
    deadline = time.monotonic() + REAL_TIMEOUT
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.testing.wait_all_tasks_blocked()


@pytest.fixture
async def pool(db_url: str, mock_clock: trio.testing.MockClock) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        async with pool.connection() as conn:
            await conn.execute("CREATE TABLE applied (job_id bigint NOT NULL)")
        yield pool


@pytest.fixture
async def wall(mock_clock: trio.testing.MockClock) -> WallClock:
    return trio_wall_clock(datetime(2026, 1, 1, tzinfo=UTC))


async def sql(pool: Pool, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall()) if cur.description else []


async def enqueue(
    pool: Pool, n: int = 1, name: str = "AssetGenerateThumbnails", **kwargs: Any
) -> list[int]:
    ids = []
    async with pool.connection() as conn:
        async with conn.transaction():
            for i in range(n):
                job_id = await q.enqueue(conn, THUMBS, name, {"n": i}, **kwargs)
                assert job_id is not None
                ids.append(job_id)
    return ids


async def job_rows(pool: Pool) -> list[dict[str, Any]]:
    return await sql(
        pool,
        "SELECT id, status, attempts, lease_owner, run_after, error FROM immich_trio.job ORDER BY id",
    )


async def applied(pool: Pool) -> list[int]:
    return [row["job_id"] for row in await sql(pool, "SELECT job_id FROM applied ORDER BY job_id")]


def make_dispatcher(pool: Pool, wall: WallClock, owner: str, **kwargs: Any) -> Dispatcher:
    kwargs.setdefault("follow_config", False)
    return Dispatcher(
        pool, clock=wall, owner=owner, lease=LEASE, name=f"dispatcher-{owner}", **kwargs
    )


async def start(nursery: trio.Nursery, *runnables: Actor[Any]) -> trio.CancelScope:
    """Start actors under their own cancel scope (cancelling it = the process dying)."""
    scope = trio.CancelScope()

    async def run_all(*, task_status: trio.TaskStatus[None]) -> None:
        with scope:
            async with trio.open_nursery() as inner:
                for actor in runnables:
                    await inner.start(actor.run)
                task_status.started()

    await nursery.start(run_all)
    return scope


async def jump_and_poll(
    clock: trio.testing.MockClock, seconds: float, *dispatchers: Dispatcher
) -> None:
    """Let ``seconds`` pass and wait until each dispatcher has run a claim round."""
    before = [d.statistics().claim_rounds for d in dispatchers]
    clock.jump(seconds)
    for dispatcher, count in zip(dispatchers, before, strict=True):
        await eventually(counter_above(dispatcher, "claim_rounds", count), "a claim round")


def counter_above(dispatcher: Dispatcher, counter: str, value: int) -> Callable[[], bool]:
    return lambda: int(getattr(dispatcher.statistics(), counter)) > value


async def test_runs_a_job_and_applies_its_result(
    pool: Pool, wall: WallClock, nursery: trio.Nursery
) -> None:
    target = Target("thumbs")
    dispatcher = make_dispatcher(pool, wall, "A")
    dispatcher.register(THUMBS, target.address, concurrency=2)
    await start(nursery, target, dispatcher)
    # Woken by NOTIFY at commit, no time passes.
    (job_id,) = await enqueue(pool)
    await eventually(lambda: dispatcher.statistics().completed == 1, "completion")
    assert await job_rows(pool) == []
    assert await applied(pool) == [job_id]
    assert target.received[0].job.data == {"n": 0} and target.received[0].job.attempt == 1


async def test_dead_process_lease_is_reclaimed_only_after_it_expires(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address)
    a_scope = await start(nursery, slow, a)
    (job_id,) = await enqueue(pool)
    await eventually(lambda: len(slow.received) == 1, "A's claim")
    a_scope.cancel()  # the process dies mid-job: no completion, no renewal, no release

    fast = Target("fast")
    b = make_dispatcher(pool, wall, "B")
    b.register(THUMBS, fast.address)
    await start(nursery, fast, b)
    for _ in range(LEASE_STEPS := 29):
        await jump_and_poll(mock_clock, 1.0, b)
    assert LEASE_STEPS < LEASE
    assert fast.received == []
    (row,) = await job_rows(pool)
    assert row["lease_owner"] == "A" and row["status"] == "active"

    await jump_and_poll(mock_clock, 1.5, b)
    await eventually(lambda: b.statistics().completed == 1, "B completing the job")
    assert fast.received[0].job.attempt == 2
    assert await applied(pool) == [job_id]


async def test_renewals_keep_a_long_job_alive(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address)
    await start(nursery, slow, a)
    (job_id,) = await enqueue(pool)
    await eventually(lambda: len(slow.received) == 1, "A's claim")
    other = Target("other")
    b = make_dispatcher(pool, wall, "B")
    b.register(THUMBS, other.address)
    await start(nursery, other, b)

    for step in range(9):  # 90 s, three leases
        renewals = a.statistics().renewals
        await jump_and_poll(mock_clock, LEASE / 3, b)
        await eventually(counter_above(a, "renewals", renewals), f"renewal {step}")
    assert other.received == []
    (row,) = await job_rows(pool)
    assert row["lease_owner"] == "A" and row["attempts"] == 1

    slow.release.set()
    await eventually(lambda: a.statistics().completed == 1, "completion")
    assert await applied(pool) == [job_id]


async def test_retry_backoff_is_exact_then_failed_after_max_attempts(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    failing = Target("failing", Script(status="failed", error="bad file"))
    a = make_dispatcher(pool, wall, "A", retry_backoff=Backoff(initial=10.0, factor=3.0, cap=100.0))
    a.register(THUMBS, failing.address)
    await start(nursery, failing, a)
    await enqueue(pool)
    await eventually(lambda: a.statistics().retried == 1, "first failure")
    (row,) = await job_rows(pool)
    assert row["status"] == "waiting" and row["error"] == "bad file"
    assert row["run_after"] == wall() + timedelta(seconds=10)  # no time passed since

    await jump_and_poll(mock_clock, 9.9, a)
    assert len(failing.received) == 1
    await jump_and_poll(mock_clock, 0.1, a)
    await eventually(lambda: a.statistics().retried == 2, "second failure")
    assert len(failing.received) == 2
    (row,) = await job_rows(pool)
    assert row["run_after"] == wall() + timedelta(seconds=30)

    await jump_and_poll(mock_clock, 29.0, a)
    assert len(failing.received) == 2
    await jump_and_poll(mock_clock, 1.0, a)
    await eventually(lambda: a.statistics().failed_jobs == 1, "final failure")
    (row,) = await job_rows(pool)
    assert row["status"] == "failed" and row["attempts"] == 3 and row["error"] == "bad file"
    await jump_and_poll(mock_clock, 1000.0, a)
    assert len(failing.received) == 3
    assert await applied(pool) == []


async def test_an_exception_in_the_worker_counts_as_a_failure(
    pool: Pool, wall: WallClock, nursery: trio.Nursery
) -> None:
    broken = Target("broken", Script(raise_error=True, error="decoder crashed"))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, broken.address)
    await start(nursery, broken, a)
    await enqueue(pool, max_attempts=1)
    await eventually(lambda: a.statistics().failed_jobs == 1, "failure")
    (row,) = await job_rows(pool)
    assert row["status"] == "failed" and row["error"] == "RuntimeError: decoder crashed"


async def test_stale_result_is_dropped_when_another_dispatcher_took_over(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address)
    await start(nursery, slow, a)
    (job_id,) = await enqueue(pool)
    await eventually(lambda: len(slow.received) == 1, "A's claim")
    # A stalls past its lease (e.g. a frozen VM): B takes the job over and finishes it.
    await sql(pool, "UPDATE immich_trio.job SET lease_until = %s", (wall() - timedelta(seconds=1),))
    fast = Target("fast")
    b = make_dispatcher(pool, wall, "B")
    b.register(THUMBS, fast.address)
    await start(nursery, fast, b)
    await eventually(lambda: b.statistics().completed == 1, "B's completion")
    # A wakes up and answers: its result must not be applied a second time.
    slow.release.set()
    await eventually(lambda: a.statistics().lost == 1, "A's result dropped")
    assert a.statistics().completed == 0
    assert await applied(pool) == [job_id]


async def test_two_dispatchers_apply_each_result_exactly_once(
    pool: Pool, wall: WallClock, nursery: trio.Nursery
) -> None:
    workers = []
    for owner in ("A", "B"):
        target = Target(f"worker-{owner}")
        d = make_dispatcher(pool, wall, owner)
        d.register(THUMBS, target.address, concurrency=3)
        await start(nursery, target, d)
        workers.append((d, target))
    ids = await enqueue(pool, 40)
    await eventually(
        lambda: sum(d.statistics().completed for d, _ in workers) == 40, "all completions"
    )
    assert await applied(pool) == ids
    assert await job_rows(pool) == []
    assert all(d.statistics().lost == 0 for d, _ in workers)


async def test_full_target_leaves_the_backlog_in_the_database(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address, concurrency=2)
    await start(nursery, slow, a)
    await enqueue(pool, 5)
    await eventually(lambda: len(slow.received) == 2, "two claims")
    queries = a.statistics().claim_queries
    for _ in range(3):
        await jump_and_poll(mock_clock, 1.0, a)
    statuses = [row["status"] for row in await job_rows(pool)]
    assert statuses == ["active", "active", "waiting", "waiting", "waiting"]
    assert len(slow.received) == 2 and a.in_flight_of(THUMBS) == 2
    assert a.statistics().claim_queries == queries  # a full queue costs no query

    # Live concurrency change through the system config listener.
    a.apply_config({"job": {THUMBS: {"concurrency": 4}}})
    await eventually(lambda: len(slow.received) == 4, "two more claims")
    statuses = [row["status"] for row in await job_rows(pool)]
    assert statuses.count("active") == 4 and statuses.count("waiting") == 1

    slow.release.set()
    await eventually(lambda: a.statistics().completed == 5, "completions")


async def test_concurrency_follows_saved_system_config(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, config_watch: ConfigWatch
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A", follow_config=True)
    a.register(THUMBS, slow.address)
    await start(nursery, slow, a)
    assert a.concurrency_of(THUMBS) == 3  # Immich's default
    assert a.concurrency_of("facialRecognition") == 1
    await enqueue(pool, 6)
    await eventually(lambda: len(slow.received) == 3, "three claims")
    async with pool.connection() as conn:
        config = await sysconfig.load(conn)
        config["job"][THUMBS]["concurrency"] = 5
        await sysconfig.save(conn, config)
    await eventually(lambda: len(slow.received) == 5, "five claims")
    slow.release.set()
    await eventually(lambda: a.statistics().completed == 6, "completions")


async def test_paused_queue_is_not_claimed_until_resumed(
    pool: Pool, wall: WallClock, nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    target = Target("thumbs")
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, target.address)
    await start(nursery, target, a)
    async with pool.connection() as conn:
        await q.set_paused(conn, THUMBS, True)
    await enqueue(pool)
    await jump_and_poll(mock_clock, 1.0, a)
    assert target.received == []
    async with pool.connection() as conn:
        await q.set_paused(conn, THUMBS, False)  # notifies: no time needs to pass
    await eventually(lambda: a.statistics().completed == 1, "completion")


async def test_routes_by_job_name_with_queue_level_slots(
    pool: Pool, wall: WallClock, nursery: trio.Nursery
) -> None:
    queue_all = QueueAllActor()
    slow = Target("thumbs", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address, concurrency=2)
    for name in HANDLED:
        a.register(name, queue_all.address)
    await start(nursery, queue_all, slow, a)
    async with pool.connection() as conn:
        cur = await conn.execute(
            """INSERT INTO "user" (email, name, password) VALUES ('a@b.c', 'A', 'x') RETURNING id"""
        )
        owner = (await cur.fetchone())["id"]  # type: ignore[index]
        for i in range(3):
            await conn.execute(
                'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt",'
                ' "fileModifiedAt", checksum, "checksumAlgorithm", "originalFileName",'
                " \"localDateTime\") VALUES (%s, 'IMAGE', %s, now(), now(), %s, 'sha1', 'a.jpg', now())",
                (owner, f"/upload/{i}.jpg", bytes([i]) * 20),
            )
        await q.enqueue(conn, THUMBS, "AssetGenerateThumbnailsQueueAll", {"force": False})
    # The QueueAll job ran on QueueAllActor and its expansion committed with its deletion;
    # the per-asset jobs went to the queue's target, two at a time.
    await eventually(lambda: len(slow.received) == 2, "per-asset jobs")
    assert {r.job.name for r in slow.received} == {"AssetGenerateThumbnails"}
    rows = await sql(pool, "SELECT name, status FROM immich_trio.job ORDER BY id")
    assert [row["name"] for row in rows] == ["AssetGenerateThumbnails"] * 3
    slow.release.set()
    await eventually(lambda: a.statistics().completed == 4, "completions")


async def test_graceful_stop_gives_jobs_back(
    pool: Pool, wall: WallClock, nursery: trio.Nursery
) -> None:
    slow = Target("slow", Script(block=True))
    a = make_dispatcher(pool, wall, "A")
    a.register(THUMBS, slow.address)
    await start(nursery, slow, a)
    await enqueue(pool)
    await eventually(lambda: len(slow.received) == 1, "claim")
    a.request_stop()
    await eventually(lambda: a.statistics().released == 1, "release")
    (row,) = await job_rows(pool)
    assert row["status"] == "waiting" and row["attempts"] == 0 and row["lease_owner"] is None
