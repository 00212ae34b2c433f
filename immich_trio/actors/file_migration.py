"""The ``migration`` queue (Immich's file migration, "Migration" on the jobs page):
``FileMigrationQueueAll`` queues one ``AssetFileMigration`` per asset and one
``PersonFileMigration`` per person; each moves its generated files to the path the current
layout and image formats give them (``thumbs/<owner>/xx/yy/<id>_<kind>.<format>``,
``encoded-video/<owner>/xx/yy/<id>.mp4``, ``thumbs/<owner>/xx/yy/<personId>.jpeg``).

This is what brings an install made by an older Immich (flat ``thumbs/<user>/<id>.jpeg`` paths)
or by a changed image format into today's layout. As Immich does, a file whose format setting
changed is renamed, not re-encoded; a file already in place or not recorded is left alone; a
file that cannot be moved stays where it is with a log line. Moves are journaled
(``file_moves``), so a kill mid-move is settled by the next run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import trio

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.file_moves import JournaledMoves
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import file_migration as q
from immich_trio.sql import move_history as moves
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage.files import encoded_video_path, person_thumbnail_path, thumbnail_path
from immich_trio.storage.layout import ENCODED_VIDEO, THUMBS
from immich_trio.storage.relocate import remove_empty_dirs

log = logging.getLogger(__name__)

SERVICE_NAME = "file-migration"
INBOX = 8
HANDLER_SLOTS = 8
JOBS = (JobName.FILE_MIGRATION_QUEUE_ALL, JobName.ASSET_FILE_MIGRATION, JobName.PERSON_FILE_MIGRATION)
IMAGE_FILES = (moves.FULLSIZE, moves.PREVIEW, moves.THUMBNAIL)
ASSET_MOVES = (*IMAGE_FILES, moves.ENCODED_VIDEO)
DEFAULT_FORMATS = {moves.FULLSIZE: "jpeg", moves.PREVIEW: "jpeg", moves.THUMBNAIL: "webp"}


class FileMigrationActor(QueueWorker):
    """Owns the moves of generated files (previews, thumbnails, full-size renditions, encoded
    videos, face thumbnails) within ``<media>/thumbs`` and ``<media>/encoded-video``.

    Inbox: ``RunJob`` for the three jobs of its queue, moves in worker threads under the
    queue's concurrency. Errors: a gone asset or person fails its job (not retried), as in
    Immich; a file that cannot be moved is logged and its row keeps the path that exists.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.MIGRATION

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media.absolute()
        self._moves = JournaledMoves(name)

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.FILE_MIGRATION_QUEUE_ALL:
                return await self._queue_all()
            case JobName.ASSET_FILE_MIGRATION:
                async with self.limiter:
                    return await self._asset(UUID(str(job.data["id"])))
            case JobName.PERSON_FILE_MIGRATION:
                async with self.limiter:
                    return await self._person(UUID(str(job.data["id"])))
        return self.unexpected(job)

    async def _queue_all(self) -> JobResult:
        async with self._pool.connection() as conn:
            tidy = await q.only_job_running(conn)
        if tidy:  # nothing else of the queue runs: the folders earlier moves emptied can go
            for folder in (THUMBS, ENCODED_VIDEO):
                await trio.to_thread.run_sync(remove_empty_dirs, self._media / folder)

        async def fan_out(conn: Any) -> None:
            await q.queue_all(conn)

        return JobResult(status="success", apply=fan_out)

    async def _asset(self, asset_id: UUID) -> JobResult:
        async with self._pool.connection() as conn:
            row = await q.asset_files(conn, asset_id)
            if row is None:
                return JobResult(status="failed", error=f"asset {asset_id} not found", retry=False)
            await self._moves.resume(conn, asset_id, ASSET_MOVES)
            row = await q.asset_files(conn, asset_id) or row
            image = (await self.current_config(conn)).get("image", {})
            owner, files = row["ownerId"], row["files"]
            for kind in IMAGE_FILES:
                fmt = str(image.get(kind, {}).get("format", DEFAULT_FORMATS[kind]))
                await self._move(conn, asset_id, kind, files.get(kind), thumbnail_path(self._media, owner, asset_id, kind, fmt))
            target = encoded_video_path(self._media, owner, asset_id)
            await self._move(conn, asset_id, moves.ENCODED_VIDEO, files.get(moves.ENCODED_VIDEO), target)
        return JobResult(status="success")

    async def _person(self, person_id: UUID) -> JobResult:
        async with self._pool.connection() as conn:
            row = await q.person(conn, person_id)
            if row is None:
                return JobResult(status="failed", error=f"person {person_id} not found", retry=False)
            await self._moves.resume(conn, person_id, (moves.FACE,))
            row = await q.person(conn, person_id) or row
            target = person_thumbnail_path(self._media, row["ownerId"], person_id)
            await self._move(conn, person_id, moves.FACE, row["thumbnailPath"], target)
        return JobResult(status="success")

    async def _move(self, conn: Any, entity_id: UUID, kind: str, old: str | None, new: Path) -> None:
        if not old or old == str(new):
            return  # nothing recorded, or already where it belongs
        await self._moves.move(conn, entity_id, kind, old, str(new))
