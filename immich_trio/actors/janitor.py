"""The janitor: runs the ``backgroundTask`` jobs that hard-delete assets and their files."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

import trio
from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import tags as tags_q
from immich_trio.sql import trash as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "janitor"
"""The actor's name in the status tree."""
HANDLER_SLOTS = 16
"""Messages handled at once; the dispatcher sends at most the queue's concurrency."""
INBOX = 16
DELETE_EVENT = "on_asset_delete"
HANDLED = frozenset(
    {
        JobName.ASSET_DELETE,
        JobName.ASSET_EMPTY_TRASH,
        JobName.ASSET_DELETE_CHECK,
        JobName.FILE_DELETE,
        JobName.TAG_CLEANUP,
    }
)
"""The other ``backgroundTask`` jobs answer ``skipped`` until something implements them."""

Conn = AsyncConnection[Any]


def unlink_all(paths: Sequence[str]) -> list[str]:
    """Remove ``paths`` (blocking; run in a thread). Missing files are fine; the others'
    errors are returned, one line per file."""
    errors: list[str] = []
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
    return errors


class JanitorActor(QueueWorker):
    """Owns the hard deletion of assets: rows, usage, events and files.

    Inbox: ``RunJob`` for the ``backgroundTask`` queue (registered for the whole queue, so
    a job name given its own target elsewhere goes there instead).

    - ``AssetEmptyTrash``: queues ``AssetDelete {id, deleteOnDisk: true}`` for every asset
      with status ``deleted``; ``AssetDeleteCheck`` does the same for assets trashed longer
      than ``trash.days`` (every trashed one when the trash is disabled).
    - ``AssetDelete {id, deleteOnDisk}``: in the dispatcher's transaction, deletes the row
      (cascades; the audit trigger writes ``asset_audit``), gives its size back to the
      owner's usage, publishes ``on_asset_delete``, queues the delete of a live-photo video
      no other asset uses, and queues ``FileDelete`` for its files. Files go only after the
      commit: a rolled-back delete never leaves a row without its files. A deleted
      primary asset hands its stack to another asset, or dissolves a stack of two.
    - ``FileDelete {files}``: unlinks in a thread; a missing file counts as deleted.
    - ``TagCleanup``: deletes every tag with no asset on it or on a tag below it (Immich
      queues it only from ``POST /jobs`` ``tag-cleanup``, not nightly nor on tag deletion).

    Backpressure: the dispatcher claims no more than the queue's concurrency. Errors: a
    file that cannot be removed fails the job with the reasons (the dispatcher retries).
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.BACKGROUND_TASK

    def __init__(self, pool: Pool, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.ASSET_EMPTY_TRASH:
                return JobResult(status="success", apply=_queue_deleted)
            case JobName.ASSET_DELETE_CHECK:
                return await self._delete_check()
            case JobName.ASSET_DELETE:
                return _asset_delete(job.data)
            case JobName.FILE_DELETE:
                return await self._file_delete(job.data)
            case JobName.TAG_CLEANUP:
                return JobResult(status="success", apply=_delete_empty_tags)
            case _:
                log.info(
                    "%s: %s is not implemented yet, skipping job %d", self.name, job.name, job.id
                )
                return JobResult(status="skipped")

    async def _delete_check(self) -> JobResult:
        async with self._pool.connection() as conn:
            config = await sysconfig.load(conn)
        trash = config.get("trash") or {}
        days = int(trash.get("days") or 0) if trash.get("enabled", True) else 0
        before = self._now() - timedelta(days=max(days, 0))

        async def apply(conn: Conn) -> None:
            await q.enqueue_expired(conn, before)

        return JobResult(status="success", apply=apply)

    async def _file_delete(self, data: Mapping[str, Any]) -> JobResult:
        paths = data.get("files")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return JobResult(status="failed", error="job data has no list of files")
        async with self.limiter:
            errors = await trio.to_thread.run_sync(unlink_all, paths)
        if errors:
            return JobResult(status="failed", error="cannot delete " + "; ".join(errors))
        return JobResult(status="success")


async def _delete_empty_tags(conn: Conn) -> None:
    deleted = await tags_q.delete_empty_tags(conn)
    if deleted:
        log.info("janitor: deleted %d empty tags", deleted)


async def _queue_deleted(conn: Conn) -> None:
    await q.enqueue_deleted(conn)


def _asset_delete(data: Mapping[str, Any]) -> JobResult:
    asset_id = data.get("id")
    if not isinstance(asset_id, str):
        return JobResult(status="failed", error="job data has no asset id")
    delete_on_disk = data.get("deleteOnDisk") is True
    return JobResult(
        status="success",
        apply=partial(_apply_delete, asset_id=asset_id, delete_on_disk=delete_on_disk),
    )


async def _apply_delete(conn: Conn, *, asset_id: str, delete_on_disk: bool) -> None:
    deleted = await q.delete_asset(conn, asset_id, delete_on_disk=delete_on_disk)
    if deleted is None:
        return  # already gone (a duplicate job, or deleted since it was queued)
    await events.publish_to_user(conn, deleted.owner_id, DELETE_EVENT, str(deleted.id))
    if deleted.orphaned_video_id is not None:
        await jobs_q.enqueue_job(
            conn,
            JobName.ASSET_DELETE,
            {"id": deleted.orphaned_video_id, "deleteOnDisk": delete_on_disk},
            dedupe_key=q.asset_delete_key(deleted.orphaned_video_id),
        )
    if deleted.files:
        await jobs_q.enqueue_job(conn, JobName.FILE_DELETE, {"files": list(deleted.files)})
