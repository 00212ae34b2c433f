"""The common part of actors that run one queue's jobs: a live-sized limiter and outcome counts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
import trio
from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.jobs.names import QueueName
from immich_trio.reactor import Actor
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)


class QueueWorker(Actor[RunJob]):
    """Answers ``RunJob`` with ``run_job``; bounds its heavy work with ``self.limiter``.

    The limiter's size follows ``job.<queue>.concurrency`` of the system config, read at
    setup and changed live through ``sysconfig.subscribe`` (a save in any process reaches
    every process's listeners by NOTIFY). ``current_config`` is that config, cached as
    Immich caches it, so jobs need not read it each time. Subclasses decide what runs
    under the limiter (all of a job, or only its CPU part in a thread).
    """

    queue: QueueName

    def __init__(self, pool: Pool, *, name: str) -> None:
        super().__init__(name=name)
        self._pool = pool
        self.limiter = trio.CapacityLimiter(1)
        self._unsubscribe: Callable[[], None] | None = None
        self._config: sysconfig.Config | None = None
        self._outcomes = {"success": 0, "skipped": 0, "failed": 0}

    async def run_job(self, job: Job) -> JobResult:
        raise NotImplementedError

    async def setup(self) -> None:
        try:
            async with self._pool.connection() as conn:
                self.apply_config(await sysconfig.load(conn))
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("%s: cannot read the job concurrency, using defaults: %s", self.name, exc)
            self._apply_concurrency(sysconfig.defaults())
        self._unsubscribe = sysconfig.subscribe(self.apply_config)

    async def teardown(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def apply_config(self, config: sysconfig.Config) -> None:
        """A ``sysconfig.subscribe`` listener: keeps the config, sizes the limiter."""
        self._config = config
        self._apply_concurrency(config)

    async def current_config(self, conn: AsyncConnection[Any]) -> sysconfig.Config:
        """The system config as last heard; read from ``conn`` only when none was heard yet."""
        if self._config is None:
            self._config = await sysconfig.load(conn)
        return self._config

    def _apply_concurrency(self, config: sysconfig.Config) -> None:
        value = config.get("job", {}).get(self.queue.value, {}).get("concurrency")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            self.limiter.total_tokens = value

    def extra_status(self) -> dict[str, object]:
        stats = self.limiter.statistics()
        return {
            "limit": stats.total_tokens,
            "working": stats.borrowed_tokens,
            "waiting": stats.tasks_waiting,
            **self._outcomes,
        }

    async def handle(self, msg: RunJob) -> None:
        match msg:
            case RunJob(job=job, reply_to=reply_to):
                result = await self.run_job(job)
                self._outcomes[result.status] += 1
                reply_to.send(result)

    def unexpected(self, job: Job) -> JobResult:
        return JobResult(status="failed", error=f"{self.name} cannot run {job.name}")

