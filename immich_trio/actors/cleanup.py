"""The cleanup worker: runs the nightly ``databaseCleanup`` and ``syncQuotaUsage`` jobs of the
``backgroundTask`` queue that touch rows only (``SessionCleanup``, ``AuditTableCleanup``,
``PersonCleanup``, ``HlsSessionCleanup``, ``UserSyncUsage``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.video_stream.expiry import remove_expired_sessions
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import cleanup as q
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "cleanup"
HANDLER_SLOTS = 2
INBOX = 4
JOBS = (
    JobName.SESSION_CLEANUP,
    JobName.AUDIT_TABLE_CLEANUP,
    JobName.PERSON_CLEANUP,
    JobName.HLS_SESSION_CLEANUP,
    JobName.USER_SYNC_USAGE,
)
"""The jobs the dispatcher sends here (the rest of the queue goes to the janitor)."""

Conn = AsyncConnection[Any]


class CleanupActor(QueueWorker):
    """Owns the nightly row cleanups; each is one set-based statement applied in the
    dispatcher's transaction, so a failed or lost job changes nothing and runs again.

    Inbox: ``RunJob`` for ``JOBS``.

    - ``SessionCleanup``: deletes sessions past ``expiresAt`` or not used for 90 days (their
      checkpoints cascade). Immich sends no event for these.
    - ``AuditTableCleanup``: deletes rows older than 31 days from every ``*_audit`` table.
    - ``PersonCleanup``: deletes people with no face and queues ``FileDelete`` for their
      thumbnails, so the files go only once the rows are gone.
    - ``UserSyncUsage``: sets every live user's ``quotaUsageInBytes`` to the sum of their
      uploads' exif file sizes.
    - ``HlsSessionCleanup``: removes the streaming sessions whose lease ran out, their segment
      folder under ``encoded-video/`` first, then the row (with no media folder given, the rows
      only).

    Backpressure: the dispatcher sends at most ``concurrency``; the statements run in its
    transaction. Errors: a database error fails the job and the dispatcher retries it.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.BACKGROUND_TASK

    def __init__(
        self, pool: Pool, *, now: WallClock, media: Path | None = None, name: str = SERVICE_NAME
    ) -> None:
        super().__init__(pool, name=name)
        self._now = now
        self._media = media

    async def run_job(self, job: Job) -> JobResult:
        moment = self._now()
        match job.name:
            case JobName.SESSION_CLEANUP:

                async def sessions(conn: Conn) -> None:
                    deleted = await q.delete_sessions(conn, moment)
                    log.info("%s: deleted %d expired session tokens", self.name, len(deleted))

                return JobResult(status="success", apply=sessions)
            case JobName.AUDIT_TABLE_CLEANUP:

                async def audit(conn: Conn) -> None:
                    deleted = await q.delete_old_audit_rows(conn, moment)
                    log.info("%s: deleted %d audit rows", self.name, deleted)

                return JobResult(status="success", apply=audit)
            case JobName.PERSON_CLEANUP:
                return JobResult(status="success", apply=_person_cleanup)
            case JobName.USER_SYNC_USAGE:

                async def usage(conn: Conn) -> None:
                    await q.sync_usage(conn, moment)

                return JobResult(status="success", apply=usage)
            case JobName.HLS_SESSION_CLEANUP:
                await remove_expired_sessions(self._pool, self._media, moment)
                return JobResult(status="success")
            case _:
                return self.unexpected(job)


async def _person_cleanup(conn: Conn) -> None:
    files = await q.delete_people_without_faces(conn)
    if files:
        await jobs_q.enqueue_job(conn, JobName.FILE_DELETE, {"files": files})
    log.debug("deleted the people without faces, %d thumbnails queued for deletion", len(files))
