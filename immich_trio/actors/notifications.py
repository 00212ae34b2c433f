"""The notifications worker: runs the ``notifications`` queue's album jobs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import album_notices as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "notifications"
HANDLER_SLOTS = 4
INBOX = 16

Conn = AsyncConnection[Any]


class NotificationsActor(QueueWorker):
    """Owns the bell rows Immich writes from its notification jobs.

    Inbox: ``RunJob`` for the ``notifications`` queue.

    - ``NotifyAlbumInvite {id, recipientId}``: an ``AlbumInvite`` notification for the new
      member (if the album and the member still exist), and ``on_notification`` to them.
    - ``NotifyAlbumUpdate {id, recipientIds}``: an ``AlbumUpdate`` notification for each
      recipient who is still a member; queued debounced by the album routes.

    Both write in the dispatcher's transaction (``apply``), so a lost lease writes nothing.
    Mail (``SendMail``, and the e-mails these jobs also send in Immich) is not sent yet:
    those jobs answer ``skipped``.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.NOTIFICATIONS

    def __init__(self, pool: Pool, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.NOTIFY_ALBUM_INVITE:
                return _album_job(job.data, "AlbumInvite", [job.data.get("recipientId")])
            case JobName.NOTIFY_ALBUM_UPDATE:
                recipients = job.data.get("recipientIds")
                return _album_job(job.data, "AlbumUpdate", recipients if isinstance(recipients, list) else [])
            case _:
                log.info("%s: %s is not implemented yet, skipping job %d", self.name, job.name, job.id)
                return JobResult(status="skipped")


def _album_job(data: Mapping[str, Any], kind: str, recipients: list[Any]) -> JobResult:
    album_id = data.get("id")
    users = [r for r in recipients if isinstance(r, str)]
    if not isinstance(album_id, str) or not users:
        return JobResult(status="failed", error="job data has no album or recipients")
    return JobResult(status="success", apply=partial(_write, album_id=album_id, kind=kind, users=users))


async def _write(conn: Conn, *, album_id: str, kind: str, users: list[str]) -> None:
    await q.create_notices(conn, album_id, kind, users)
