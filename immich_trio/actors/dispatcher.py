"""The job dispatcher: claims jobs from PostgreSQL when an actor has room, hands them over,
records the outcome, and keeps the leases of running jobs alive.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import secrets
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs
import psycopg
import trio
from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.jobs.names import QUEUE_OF, JobName, QueueName, concurrency_from_config
from immich_trio.reactor import Actor, ActorStatistics, Address, AskFailed, Backoff, ReplyTo
from immich_trio.sql import jobs as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.jobs import Job
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

DEFAULT_LEASE = 60.0
"""Seconds a claimed job stays ours without renewal; renewed every third of it."""
DEFAULT_POLL_INTERVAL = 1.0
"""Fallback wake-up when no notification arrives (lost connection, delayed retries)."""
DEFAULT_STATS_INTERVAL = 5.0
"""How often the queue depths shown in the status tree are refreshed."""
DEFAULT_CONCURRENCY = 1
DEFAULT_RETRY_BACKOFF = Backoff(initial=10.0, factor=2.0, cap=3600.0)
"""Delay before retry ``n`` (0-based) of a failed job."""
LISTEN_RETRY_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=30.0)
RELEASE_TIMEOUT = 5.0
"""Graceful stop: how long giving in-flight jobs back may take."""

_QUEUES = frozenset(queue.value for queue in QueueName)
_JOBS = frozenset(job.value for job in JobName)

JobStatus = Literal["success", "skipped", "failed"]
ApplyResult = Callable[[AsyncConnection[Any]], Awaitable[None]]
WallClock = Callable[[], datetime]


@attrs.frozen(kw_only=True)
class JobResult:
    """A target's answer to ``RunJob``.

    ``apply`` holds the job's database writes and follow-up ``enqueue``s; the dispatcher
    runs it in the transaction that deletes the job, only if the lease is still ours, so
    it is applied at most once. ``skipped`` counts as success (follow-ups still apply).
    """

    status: JobStatus
    error: str | None = None
    apply: ApplyResult | None = None


@attrs.frozen(kw_only=True)
class RunJob:
    """Run ``job`` and answer on ``reply_to`` (a raise counts as ``failed``)."""

    job: Job
    reply_to: ReplyTo[JobResult]


@attrs.frozen(kw_only=True)
class SetConcurrency:
    queue: str
    concurrency: int


@attrs.frozen(kw_only=True)
class QueueStatistics:
    queue: str
    concurrency: int
    in_flight: int
    depth: Mapping[str, int]


@attrs.frozen(kw_only=True)
class DispatcherStatistics(ActorStatistics):
    owner: str
    queues: tuple[QueueStatistics, ...]
    claimed: int
    completed: int
    retried: int
    failed_jobs: int
    released: int
    lost: int
    database_errors: int
    claim_rounds: int
    claim_queries: int
    renewals: int
    listening: bool


def trio_wall_clock(base: datetime | None = None) -> WallClock:
    """Wall-clock dates that advance with the Trio clock (so ``MockClock`` drives them)."""
    start = base if base is not None else datetime.now(UTC)
    t0 = trio.current_time()
    return lambda: start + timedelta(seconds=trio.current_time() - t0)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class _LeaseLost(Exception):
    pass


def _queue_of(key: str) -> str:
    """The queue of a route key (a queue name, or a job name)."""
    return key if key in _QUEUES else QUEUE_OF[JobName(key)].value


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class Dispatcher(Actor[SetConcurrency]):
    """Owns the claim loop, lease renewal and the outcome of every job this process runs.

    Targets are registered per job name or per queue (``register``); a queue's jobs share
    its slots (``concurrency``, live from the system config). A queue is claimed from
    only while it has free slots and is not paused, so the backlog stays in PostgreSQL:
    memory holds at most ``concurrency`` jobs per queue. Each job is sent to its target
    with ``ask`` in its own task. Success/skipped: ``apply`` and the job's deletion commit
    together if the lease is still ours; else the result is dropped. Failure, an exception
    or an unanswered ask: retry after exponential backoff, ``failed`` after
    ``max_attempts``. Database errors are logged and counted, never fatal: leases then
    expire and the jobs run again. The inbox takes ``SetConcurrency``.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        name: str = "dispatcher",
        clock: WallClock | None = None,
        owner: str | None = None,
        lease: float = DEFAULT_LEASE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        stats_interval: float = DEFAULT_STATS_INTERVAL,
        retry_backoff: Backoff = DEFAULT_RETRY_BACKOFF,
        listen_url: str | None = None,
        listen: bool = True,
        follow_config: bool = True,
    ) -> None:
        super().__init__(name=name)
        self._pool = pool
        self._clock = clock
        self.owner = owner or default_owner()
        self.lease = lease
        self.poll_interval = poll_interval
        self.stats_interval = stats_interval
        self.retry_backoff = retry_backoff
        self._listen_url = (listen_url or pool.url) if listen else None
        self._follow_config = follow_config
        self._routes: dict[str, Address[RunJob]] = {}
        self._concurrency: dict[str, int] = {}
        self._busy: Counter[str] = Counter()
        self._running: dict[int, Job] = {}
        self._pending: set[str] = set()
        self._wakeup = trio.Event()
        self._due: list[tuple[float, str]] = []  # (Trio deadline, queue) of our own retries
        self._due_changed = trio.Event()
        self._closing = False
        self._listening = False
        self._depth: dict[str, dict[str, int]] = {}
        self._counts: Counter[str] = Counter()

    # -- configuration (sync, safe at any time) ----------------------------------------

    def register(
        self, key: str, target: Address[RunJob], *, concurrency: int | None = None
    ) -> None:
        """Send jobs named ``key`` (a JobName), or every job of queue ``key`` (a QueueName)
        without a target of its own, to ``target``."""
        if key not in _QUEUES and key not in _JOBS:
            raise ValueError(f"{key!r} is neither a queue nor a job name")
        queue = _queue_of(key)
        self._routes[key] = target
        if concurrency is not None:
            self.set_concurrency(queue, concurrency)
        self._wake(queue)

    def set_concurrency(self, queue: str, concurrency: int) -> None:
        """Slots of ``queue``; lowering it lets running jobs finish, raising it claims now."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._concurrency[queue] = concurrency
        self._wake(queue)

    def apply_config(self, config: sysconfig.Config) -> None:
        """A ``sysconfig.subscribe`` listener: ``job.<queue>.concurrency`` applies live."""
        for queue, concurrency in concurrency_from_config(config).items():
            if self._concurrency.get(queue.value) != concurrency:
                self.set_concurrency(queue.value, concurrency)

    def concurrency_of(self, queue: str) -> int:
        return self._concurrency.get(queue, DEFAULT_CONCURRENCY)

    def in_flight_of(self, queue: str) -> int:
        return self._busy[queue]

    def wake(self, queue: str | None = None) -> None:
        """Look for claimable jobs now (of ``queue``, or of every registered queue)."""
        self._wake(queue)

    # -- status ------------------------------------------------------------------------

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Last counts per queue (refreshed every ``stats_interval``) plus in-flight here."""
        return {
            queue: {**counts, "in_flight": self._busy[queue]}
            for queue, counts in self._depth.items()
        }

    def statistics(self) -> DispatcherStatistics:
        base = super().statistics()
        queues = tuple(
            QueueStatistics(
                queue=queue,
                concurrency=self.concurrency_of(queue),
                in_flight=self._busy[queue],
                depth=dict(self._depth.get(queue, {})),
            )
            for queue in sorted(self._queues())
        )
        return DispatcherStatistics(
            **attrs.asdict(base, recurse=False),
            owner=self.owner,
            queues=queues,
            claimed=self._counts["claimed"],
            completed=self._counts["completed"],
            retried=self._counts["retried"],
            failed_jobs=self._counts["failed"],
            released=self._counts["released"],
            lost=self._counts["lost"],
            database_errors=self._counts["database_errors"],
            claim_rounds=self._counts["claim_rounds"],
            claim_queries=self._counts["claim_queries"],
            renewals=self._counts["renewals"],
            listening=self._listening,
        )

    def extra_status(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "listening": self._listening,
            "queues": self.queue_depths(),
            "concurrency": {queue: self.concurrency_of(queue) for queue in sorted(self._queues())},
            **{
                key: self._counts[key]
                for key in ("claimed", "completed", "retried", "failed", "lost")
            },
        }

    # -- running -----------------------------------------------------------------------

    async def handle(self, msg: SetConcurrency) -> None:
        match msg:
            case SetConcurrency(queue=queue, concurrency=concurrency):
                self.set_concurrency(queue, concurrency)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Claim and run jobs until stopped.

        ``request_stop`` gives in-flight jobs back to the queue (not counted as an
        attempt); cancellation leaves them to expire, as a crash would.
        """
        self._closing = False
        unsubscribe = sysconfig.subscribe(self.apply_config) if self._follow_config else None
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._engine)
                await super().run(task_status=task_status)
                self._closing = True
                await self._release_all()
                nursery.cancel_scope.cancel()
        finally:
            if unsubscribe is not None:
                unsubscribe()

    def _now(self) -> datetime:
        assert self._clock is not None
        return self._clock()

    def _queues(self) -> set[str]:
        return {_queue_of(key) for key in self._routes}

    def _wake(self, queue: str | None) -> None:
        if queue is None:
            self._pending.update(self._queues())
        elif queue in self._queues():
            self._pending.add(queue)
        else:
            return
        self._wakeup.set()

    async def _engine(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        if self._clock is None:
            self._clock = trio_wall_clock()
        if self._follow_config:
            await self._load_config()
        async with trio.open_nursery() as nursery:
            if self._listen_url is not None:
                await nursery.start(self._listen, self._listen_url)
            nursery.start_soon(self._claim_loop, nursery)
            nursery.start_soon(self._renew_loop)
            nursery.start_soon(self._poll_loop)
            nursery.start_soon(self._timer_loop)
            nursery.start_soon(self._stats_loop)
            task_status.started()

    async def _load_config(self) -> None:
        try:
            async with self._pool.connection() as conn:
                self.apply_config(await sysconfig.load(conn))
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("dispatcher: cannot read the job concurrency: %s", exc)

    async def _listen(self, url: str, *, task_status: trio.TaskStatus[None]) -> None:
        """LISTEN for enqueues; a lost connection only costs latency (the poll covers it)."""

        async def on_payload(payload: str) -> None:
            self._wake(payload or None)

        def on_listening(listening: bool) -> None:
            self._listening = listening
            if listening:
                self._wake(None)  # whatever was notified while we were not listening

        await listen_forever(
            url, q.NOTIFY_CHANNEL, on_payload, name="dispatcher", on_listening=on_listening,
            backoff=LISTEN_RETRY_BACKOFF, task_status=task_status,
        )

    async def _poll_loop(self) -> None:
        while True:
            await trio.sleep(self.poll_interval)
            self._wake(None)

    async def _timer_loop(self) -> None:
        """Wake a queue exactly when one of our retries becomes due (polling is coarser)."""
        while True:
            deadline = self._due[0][0] if self._due else math.inf
            with trio.move_on_at(deadline):
                await self._due_changed.wait()
                self._due_changed = trio.Event()
            now = trio.current_time()
            while self._due and self._due[0][0] <= now:
                self._wake(heapq.heappop(self._due)[1])

    def _wake_at(self, delay: float, queue: str) -> None:
        heapq.heappush(self._due, (trio.current_time() + delay, queue))
        self._due_changed.set()

    async def _claim_loop(self, nursery: trio.Nursery) -> None:
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            pending, self._pending = self._pending, set()
            self._counts["claim_rounds"] += 1
            for queue in sorted(pending):
                if self._closing:
                    return
                free = self.concurrency_of(queue) - self._busy[queue]
                if free <= 0:
                    continue  # a finishing job wakes the queue again
                for job in await self._claim(queue, free):
                    target = self._routes.get(job.name) or self._routes.get(job.queue)
                    if target is None:  # unregistered since the claim
                        continue
                    self._busy[queue] += 1
                    self._running[job.id] = job
                    nursery.start_soon(self._run_job, job, target)

    async def _claim(self, queue: str, free: int) -> list[Job]:
        # A queue-wide target takes every job of the queue; otherwise only routed names.
        names = None
        if queue not in self._routes:
            names = [key for key in self._routes if key in _JOBS and _queue_of(key) == queue]
        now = self._now()
        self._counts["claim_queries"] += 1
        try:
            async with self._pool.connection() as conn:
                jobs = await q.claim(
                    conn,
                    queue=queue,
                    limit=free,
                    owner=self.owner,
                    now=now,
                    lease_until=now + timedelta(seconds=self.lease),
                    names=names,
                )
        except (DatabaseUnavailable, psycopg.Error) as exc:
            self._counts["database_errors"] += 1
            log.warning("dispatcher: claiming from %s failed: %s", queue, exc)
            return []
        self._counts["claimed"] += len(jobs)
        return jobs

    async def _run_job(self, job: Job, target: Address[RunJob]) -> None:
        try:
            try:
                result: JobResult = await target.ask(lambda reply: RunJob(job=job, reply_to=reply))
            except AskFailed as exc:
                if exc.error is None:  # the worker stopped: not the job's fault
                    await self._release([job])
                    return
                result = JobResult(status="failed", error=_describe(exc.error))
            except Exception as exc:  # the target answered with reply_to.fail(exc)
                result = JobResult(status="failed", error=_describe(exc))
            await self._complete(job, result)
        finally:
            del self._running[job.id]
            self._busy[job.queue] -= 1
            self._wake(job.queue)

    async def _complete(self, job: Job, result: JobResult) -> None:
        try:
            if result.status in ("success", "skipped"):
                error = await self._apply(job, result)
                if error is None:
                    return
            else:
                error = result.error or "Job failed"
            await self._retry_or_fail(job, error)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            # The lease will expire and the job run again.
            self._counts["database_errors"] += 1
            log.warning("dispatcher: recording job %s (%s) failed: %s", job.id, job.name, exc)

    async def _apply(self, job: Job, result: JobResult) -> str | None:
        """Commit the result and delete the job; an error text if ``apply`` raised."""
        async with self._pool.connection() as conn:
            try:
                async with conn.transaction():
                    if not await q.finish(
                        conn, job_id=job.id, attempt=job.attempt, owner=self.owner
                    ):
                        raise _LeaseLost
                    if result.apply is not None:
                        await result.apply(conn)
            except _LeaseLost:
                self._counts["lost"] += 1
                log.info("dispatcher: lease of job %s (%s) lost, result dropped", job.id, job.name)
                return None
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                log.warning("dispatcher: applying job %s (%s) failed: %s", job.id, job.name, exc)
                return _describe(exc)
        self._counts["completed"] += 1
        return None

    async def _retry_or_fail(self, job: Job, error: str) -> None:
        now = self._now()
        delay = self.retry_backoff.delay(job.attempt - 1)
        retry_at = now + timedelta(seconds=delay)
        async with self._pool.connection() as conn:
            status = await q.retry_or_fail(
                conn,
                job_id=job.id,
                attempt=job.attempt,
                owner=self.owner,
                error=error,
                retry_at=retry_at,
                now=now,
            )
        if status is None:
            self._counts["lost"] += 1
        elif status == "failed":
            self._counts["failed"] += 1
            log.warning("job %s (%s) failed for good: %s", job.id, job.name, error)
        else:
            self._counts["retried"] += 1
            self._wake_at(delay, job.queue)
            log.info("job %s (%s) failed, retry at %s: %s", job.id, job.name, retry_at, error)

    async def _renew_loop(self) -> None:
        # Separate from the claim loop so a slow claim never delays a renewal.
        while True:
            await trio.sleep(self.lease / 3)
            if not self._running:
                continue
            leases = [(job.id, job.attempt) for job in self._running.values()]
            now = self._now()
            try:
                async with self._pool.connection() as conn:
                    kept = await q.renew(
                        conn,
                        owner=self.owner,
                        leases=leases,
                        until=now + timedelta(seconds=self.lease),
                    )
            except (DatabaseUnavailable, psycopg.Error) as exc:
                self._counts["database_errors"] += 1
                log.warning("dispatcher: renewing leases failed: %s", exc)
                continue
            self._counts["renewals"] += 1
            lost = [job_id for job_id, _ in leases if job_id not in kept]
            if lost:
                log.info("dispatcher: leases lost for jobs %s", lost)

    async def _release(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        with trio.move_on_after(RELEASE_TIMEOUT, shield=True):
            try:
                async with self._pool.connection() as conn:
                    released = await q.release(
                        conn,
                        owner=self.owner,
                        leases=[(j.id, j.attempt) for j in jobs],
                        now=self._now(),
                    )
                self._counts["released"] += released
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.warning(
                    "dispatcher: giving jobs back failed (their leases will expire): %s", exc
                )

    async def _release_all(self) -> None:
        await self._release(list(self._running.values()))

    async def _stats_loop(self) -> None:
        while True:
            try:
                async with self._pool.connection() as conn:
                    self._depth = await q.queue_counts(conn, self._now())
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.debug("dispatcher: counting jobs failed: %s", exc)
            await trio.sleep(self.stats_interval)
