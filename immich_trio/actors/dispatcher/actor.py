"""The job dispatcher: claims jobs from PostgreSQL when an actor has room, hands them over,
keeps the leases of running jobs alive, and has their outcomes recorded (``outcomes``)."""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter
from datetime import datetime, timedelta

import attrs
import psycopg
import trio

from immich_trio import sysconfig
from immich_trio.actors.dispatcher.messages import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_STATS_INTERVAL,
    LISTEN_RETRY_BACKOFF,
    DispatcherStatistics,
    JobResult,
    QueueStatistics,
    RunJob,
    SetConcurrency,
    WallClock,
    default_owner,
    trio_wall_clock,
)
from immich_trio.actors.dispatcher.outcomes import JobOutcomes, describe
from immich_trio.jobs.names import QUEUE_OF, JobName, QueueName, concurrency_from_config
from immich_trio.reactor import Actor, Address, AskFailed, Backoff
from immich_trio.sql import jobs as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.jobs import Job
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool

log = logging.getLogger("immich_trio.actors.dispatcher")

_QUEUES = frozenset(queue.value for queue in QueueName)
_JOBS = frozenset(job.value for job in JobName)


def _queue_of(key: str) -> str:
    """The queue of a route key (a queue name, or a job name)."""
    return key if key in _QUEUES else QUEUE_OF[JobName(key)].value


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
        self._outcomes = JobOutcomes(
            pool, owner=self.owner, now=self._now, retry_delay=lambda n: self.retry_backoff.delay(n),
            wake_at=self._wake_at, counts=self._counts,
        )

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

    def target_of(self, name: str, queue: str | None = None) -> Address[RunJob] | None:
        """Where a job named ``name`` goes: its own target, else its queue's, else none."""
        return self._routes.get(name) or self._routes.get(queue or _queue_of(name))

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
                    if (target := self.target_of(job.name, job.queue)) is None:
                        continue  # unregistered since the claim
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
                    await self._outcomes.release([job])
                    return
                result = JobResult(status="failed", error=describe(exc.error))
            except Exception as exc:  # the target answered with reply_to.fail(exc)
                result = JobResult(status="failed", error=describe(exc))
            await self._outcomes.complete(job, result)
        finally:
            del self._running[job.id]
            self._busy[job.queue] -= 1
            self._wake(job.queue)

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

    async def _release_all(self) -> None:
        await self._outcomes.release(list(self._running.values()))

    async def _stats_loop(self) -> None:
        while True:
            try:
                async with self._pool.connection() as conn:
                    self._depth = await q.queue_counts(conn, self._now())
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.debug("dispatcher: counting jobs failed: %s", exc)
            await trio.sleep(self.stats_interval)
