"""What became of a job: its result applied in the transaction that deletes it (if the lease
is still ours), a retry after backoff, failure for good, or the job given back unfinished."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
import trio

from immich_trio.actors.dispatcher.messages import RELEASE_TIMEOUT, JobResult
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as q
from immich_trio.sql import notifications
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger("immich_trio.actors.dispatcher")

ADMIN_TOLD_OF_FAILURE = frozenset({JobName.DATABASE_BACKUP.value})
"""Jobs whose failure for good puts a ``JobFailed`` notification in the admin's bell, as
Immich's ``onJobFailed`` does (only for the database backup)."""


class _LeaseLost(Exception):
    pass


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class JobOutcomes:
    """Records outcomes for one dispatcher (``owner``), counting them in ``counts``.

    Database errors while recording are logged and counted (``database_errors``), never
    raised: the lease then expires and the job runs again. ``wake_at(delay, queue)`` is told
    when a retry becomes due; ``retry_delay(n)`` is the wait before retry ``n`` (0-based).
    """

    def __init__(
        self,
        pool: Pool,
        *,
        owner: str,
        now: Callable[[], datetime],
        retry_delay: Callable[[int], float],
        wake_at: Callable[[float, str], None],
        counts: Counter[str],
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._now = now
        self._retry_delay = retry_delay
        self._wake_at = wake_at
        self._counts = counts

    async def complete(self, job: Job, result: JobResult) -> None:
        """Record ``result``: applied with the job's deletion, or a retry, or failed for good."""
        try:
            if result.status in ("success", "skipped"):
                error = await self._apply(job, result)
                if error is None:
                    return
            else:
                error = result.error or "Job failed"
            await self._retry_or_fail(job, error, retry=result.retry)
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
                        conn, job_id=job.id, attempt=job.attempt, owner=self._owner
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
                return describe(exc)
        self._counts["completed"] += 1
        return None

    async def _retry_or_fail(self, job: Job, error: str, *, retry: bool = True) -> None:
        now = self._now()
        delay = self._retry_delay(job.attempt - 1)
        retry_at = now + timedelta(seconds=delay)
        async with self._pool.connection() as conn, conn.transaction():
            status = await q.retry_or_fail(
                conn,
                job_id=job.id,
                attempt=job.attempt,
                owner=self._owner,
                error=error,
                retry_at=retry_at,
                now=now,
                retry=retry,
            )
            if status == "failed" and job.name in ADMIN_TOLD_OF_FAILURE:
                await notifications.notify_admin_of_failure(conn, job.name, error)
        if status is None:
            self._counts["lost"] += 1
        elif status == "failed":
            self._counts["failed"] += 1
            log.warning("job %s (%s) failed for good: %s", job.id, job.name, error)
        else:
            self._counts["retried"] += 1
            self._wake_at(delay, job.queue)
            log.info("job %s (%s) failed, retry at %s: %s", job.id, job.name, retry_at, error)

    async def release(self, jobs: list[Job]) -> None:
        """Give jobs back unfinished (the attempt not counted); never longer than
        ``RELEASE_TIMEOUT``, even while cancelled."""
        if not jobs:
            return
        with trio.move_on_after(RELEASE_TIMEOUT, shield=True):
            try:
                async with self._pool.connection() as conn:
                    released = await q.release(
                        conn,
                        owner=self._owner,
                        leases=[(j.id, j.attempt) for j in jobs],
                        now=self._now(),
                    )
                self._counts["released"] += released
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.warning(
                    "dispatcher: giving jobs back failed (their leases will expire): %s", exc
                )
