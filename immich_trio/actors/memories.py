"""The memories worker: runs ``MemoryGenerate`` and ``MemoryCleanup`` of the ``backgroundTask``
queue (queued nightly, or by ``POST /jobs {"name": "memory-create" | "memory-cleanup"}``)."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import memory_generation as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "memories"
HANDLER_SLOTS = 2
INBOX = 4
JOBS = (JobName.MEMORY_GENERATE, JobName.MEMORY_CLEANUP)
"""The jobs the dispatcher sends here (the rest of the queue goes to the janitor)."""

Conn = AsyncConnection[Any]


class MemoriesActor(QueueWorker):
    """Owns the nightly memories.

    Inbox: ``RunJob`` for ``MemoryGenerate`` and ``MemoryCleanup``.

    - ``MemoryGenerate``: "on this day" memories for the days around today (the injected wall
      clock's UTC date). Each target day commits on its own with its progress in
      ``memories-state`` (``sql/memory_generation.py``), as Immich records it, so the work is
      not deferred to the dispatcher's transaction: a lost lease or a crash keeps the finished
      days, and the next run starts after them.
    - ``MemoryCleanup``: in the dispatcher's transaction, removes non-timeline assets from
      memories and the unsaved memories older than 30 days.

    Runs under ``self.limiter`` (the queue's concurrency); the memory-creation lock serialises
    two generations, in this process or another.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.BACKGROUND_TASK

    def __init__(self, pool: Pool, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.MEMORY_GENERATE:
                async with self.limiter, self._pool.connection() as conn:
                    days = await q.generate(conn, self._now().astimezone(UTC).date())
                log.info("%s: memories created for %s", self.name, [d.isoformat() for d in days])
                return JobResult(status="success")
            case JobName.MEMORY_CLEANUP:
                moment = self._now()

                async def apply(conn: Conn) -> None:
                    await q.cleanup(conn, moment)

                return JobResult(status="success", apply=apply)
            case _:
                return self.unexpected(job)
