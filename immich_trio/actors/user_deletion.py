"""The user-deletion worker: ``UserDeleteCheck`` and ``UserDelete`` of the ``backgroundTask`` queue."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import trio
from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import events
from immich_trio.sql import user_deletion as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage.layout import user_folders

log = logging.getLogger(__name__)

SERVICE_NAME = "user-deletion"
HANDLER_SLOTS = 2
INBOX = 4
JOBS = (JobName.USER_DELETE_CHECK, JobName.USER_DELETE)
"""The jobs the dispatcher sends here (the rest of the queue goes to the janitor)."""
DELETE_EVENT = "on_user_delete"
DEFAULT_DELAY_DAYS = 7

Conn = AsyncConnection[Any]


def remove_folders(folders: Sequence[Path]) -> list[str]:
    """Remove each folder and all below it (blocking; run in a thread). Missing ones are
    fine; the others' errors are returned, one line per folder."""
    errors: list[str] = []
    for folder in folders:
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
    return errors


def delete_delay(config: sysconfig.Config) -> timedelta:
    days = (config.get("user") or {}).get("deleteDelay", DEFAULT_DELAY_DAYS)
    if not isinstance(days, int) or isinstance(days, bool):
        days = DEFAULT_DELAY_DAYS
    return timedelta(days=days)


class UserDeletionActor(QueueWorker):
    """Owns the hard deletion of users: their folders, rows and the ``on_user_delete`` event.

    Inbox: ``RunJob`` for ``UserDeleteCheck`` and ``UserDelete``.

    - ``UserDeleteCheck`` (nightly, or ``POST /jobs {"name": "user-cleanup"}``): in the
      dispatcher's transaction, queues ``UserDelete {id}`` for every user soft-deleted more
      than ``user.deleteDelay`` days ago (by the injected wall clock).
    - ``UserDelete {id, force?}``: a user not yet due (restored, or deleted too recently) is
      left alone unless ``force``. Otherwise, as Immich does: the user's folders
      (``storage.layout.user_folders``) are removed in a thread, then, in the dispatcher's
      transaction, the albums the user owns and the user row (everything else cascades),
      and ``on_user_delete`` goes to every socket. A folder that cannot be removed fails
      the job (the dispatcher retries; removing is idempotent).

    The config is read fresh for each job, as Immich reads it (``withCache: false``).
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.BACKGROUND_TASK

    def __init__(self, pool: Pool, media: Path, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.USER_DELETE_CHECK:
                async with self._pool.connection() as conn:
                    config = await sysconfig.load(conn)
                before = self._now() - delete_delay(config)

                async def apply(conn: Conn) -> None:
                    await q.enqueue_deleted_before(conn, before)

                return JobResult(status="success", apply=apply)
            case JobName.USER_DELETE:
                return await self._user_delete(job.data)
            case _:
                return self.unexpected(job)

    async def _user_delete(self, data: Mapping[str, Any]) -> JobResult:
        user_id = data.get("id")
        if not isinstance(user_id, str):
            return JobResult(status="failed", error="job data has no user id")
        async with self._pool.connection() as conn:
            config = await sysconfig.load(conn)
            user = await q.get(conn, user_id)
        if user is None:
            return JobResult(status="success")  # already gone
        due = user.deleted_at is not None and user.deleted_at < self._now() - delete_delay(config)
        if data.get("force") is not True and not due:
            log.warning("%s: skipped user %s that was not ready for deletion", self.name, user_id)
            return JobResult(status="skipped")
        log.warning("%s: deleting user %s", self.name, user_id)
        folders = user_folders(self._media, user.id, user.storage_label)
        async with self.limiter:
            errors = await trio.to_thread.run_sync(remove_folders, folders)
        if errors:
            return JobResult(status="failed", error="cannot delete " + "; ".join(errors))

        async def apply(conn: Conn) -> None:
            if await q.delete(conn, user_id):
                await events.publish_to_all(conn, DELETE_EVENT, str(user_id))

        return JobResult(status="success", apply=apply)
