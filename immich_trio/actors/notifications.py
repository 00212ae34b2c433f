"""The notifications worker: runs the ``notifications`` queue (album notices, welcome mail,
``SendMail``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.actors import mail_jobs
from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import album_notices as q
from immich_trio.sql import mail
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "notifications"
HANDLER_SLOTS = 4
INBOX = 16

Conn = AsyncConnection[Any]


class NotificationsActor(QueueWorker):
    """Owns the bell rows and the mail Immich sends from its notification jobs.

    Inbox: ``RunJob`` for the ``notifications`` queue.

    - ``NotifyAlbumInvite {id, recipientId}``: an ``AlbumInvite`` notification for the new
      member (if the album and the member still exist), ``on_notification`` to them, and the
      invite mail queued if their preferences allow it.
    - ``NotifyAlbumUpdate {id, recipientIds}``: the same as ``AlbumUpdate`` for each
      recipient who is still a member; queued debounced by the album routes.
    - ``NotifyUserSignup {id, tempPassword?}``: the welcome mail queued (``skipped`` when
      the user is gone).
    - ``SendMail {to, subject, html, text}``: sent over SMTP when the system config enables
      it, else ``skipped``; an SMTP error fails the run (retried by the dispatcher).

    Writes happen in the dispatcher's transaction (``apply``), so a lost lease writes nothing.
    The system config is read fresh for each job, as Immich does for mail.
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
            case JobName.NOTIFY_USER_SIGNUP:
                async with self._pool.connection() as conn:
                    user_id = job.data.get("id")
                    if not isinstance(user_id, str) or await mail.live_user(conn, user_id) is None:
                        return JobResult(status="skipped")
                return JobResult(status="success", apply=partial(_welcome, data=job.data))
            case JobName.SEND_MAIL:
                async with self._pool.connection() as conn:
                    config = await sysconfig.load(conn)
                return await mail_jobs.send_mail(config, job.data)
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
    await mail_jobs.queue_album_mail(conn, album_id, kind, users)


async def _welcome(conn: Conn, *, data: Mapping[str, Any]) -> None:
    await mail_jobs.queue_welcome_mail(conn, data)
