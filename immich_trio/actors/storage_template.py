"""The ``storageTemplateMigration`` queue: ``StorageTemplateMigrationSingle`` (after metadata
extraction) and ``StorageTemplateMigration`` (every asset) move originals, their sidecars and
live-photo videos to the paths the storage template gives them, as Immich does.

Each move is journaled in ``move_history`` (``file_moves.JournaledMoves``), so a run killed
anywhere is finished or undone by the next one from what is on disk.
"""

from __future__ import annotations

import logging
import os
from datetime import tzinfo
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.file_moves import JournaledMoves
from immich_trio.actors.nightly_time import server_zone
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import storage_template as q
from immich_trio.sql.jobs import Job, enqueue_job
from immich_trio.sql.move_history import ORIGINAL, SIDECAR
from immich_trio.sql.pool import Pool
from immich_trio.storage.layout import ENCODED_VIDEO, LIBRARY
from immich_trio.storage.relocate import remove_empty_dirs
from immich_trio.storage.template import Node, TemplateError, names_album, parse_template
from immich_trio.storage.template_path import (
    Album,
    TemplateAsset,
    library_root,
    motion_filename,
    template_destination,
)

log = logging.getLogger(__name__)

SERVICE_NAME = "storage-template"
INBOX = 1
JOBS = (JobName.STORAGE_TEMPLATE_MIGRATION, JobName.STORAGE_TEMPLATE_MIGRATION_SINGLE)
THUMBNAIL_SOURCES = frozenset({"upload", "copy"})
MOVED = (ORIGINAL, SIDECAR)
Conn = AsyncConnection[Any]


def _exists(path: str) -> bool:
    return os.path.lexists(path)


class StorageTemplateActor(QueueWorker):
    """Owns ``<media>/library`` and the moves of originals into it.

    Inbox: ``RunJob`` for the two jobs of its queue (Immich runs the queue one at a time;
    moves are also serialised across processes by an advisory lock). File work runs in
    worker threads. Errors: a file that cannot be moved stays where it is, recorded there,
    with a log line (as Immich); the job itself fails only when its asset is gone.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = 1
    queue = QueueName.STORAGE_TEMPLATE_MIGRATION

    def __init__(self, pool: Pool, media: Path, *, zone: tzinfo | None = None, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media.absolute()
        self._zone = zone if zone is not None else server_zone()
        # storageTemplate.hashVerificationEnabled of the job running (one at a time)
        self._verify_hash = True
        self._moves = JournaledMoves(name)

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            section = (await self.current_config(conn)).get("storageTemplate", {})
            if section.get("enabled") is not True:
                return self._after_single(job, "skipped")
            self._verify_hash = section.get("hashVerificationEnabled") is not False
            try:
                nodes = parse_template(str(section.get("template", "")))
            except TemplateError as exc:
                return JobResult(status="failed", error=f"invalid storage template: {exc}", retry=False)
            async with self.limiter:
                match job.name:
                    case JobName.STORAGE_TEMPLATE_MIGRATION_SINGLE:
                        found = await self._locked(conn, self.move_asset, nodes, UUID(str(job.data["id"])))
                        if not found:
                            return JobResult(status="failed", error="asset not found", retry=False)
                        return self._after_single(job, "success")
                    case JobName.STORAGE_TEMPLATE_MIGRATION:
                        await self.migrate_all(conn, nodes)
                        return JobResult(status="success")
        return self.unexpected(job)

    def _after_single(self, job: Job, status: Any) -> JobResult:
        """Immich's pipeline: thumbnails follow an upload's or a copy's template job."""
        source = job.data.get("source")
        if job.name != JobName.STORAGE_TEMPLATE_MIGRATION_SINGLE or source not in THUMBNAIL_SOURCES:
            return JobResult(status=status)
        data = {"id": str(job.data["id"]), "source": source}

        async def thumbnails(conn: Conn) -> None:
            await enqueue_job(conn, JobName.ASSET_GENERATE_THUMBNAILS, data)

        return JobResult(status=status, apply=thumbnails)

    async def _locked(self, conn: Conn, work: Any, *args: Any) -> Any:
        await q.lock(conn)
        try:
            return await work(conn, *args)
        finally:
            with trio.CancelScope(shield=True):
                await q.unlock(conn)

    async def migrate_all(self, conn: Conn, nodes: tuple[Node, ...]) -> None:
        """Every asset, a page of ids at a time, then the empty folders of the library."""
        await q.clean_move_history(conn)
        after: UUID | None = None
        while page := await q.page_of_assets(conn, after):
            for asset_id in page:
                await self._locked(conn, self.move_asset, nodes, asset_id)
            after = page[-1]
        await trio.to_thread.run_sync(remove_empty_dirs, self._media / LIBRARY)

    async def move_asset(self, conn: Conn, nodes: tuple[Node, ...], asset_id: UUID) -> bool:
        """Move one asset (and its live-photo video); False when the asset is gone."""
        await self._moves.resume(conn, asset_id, MOVED)
        row = await q.for_template_job(conn, asset_id)
        if row is None:
            return False
        filename = row["originalFileName"] or str(row["id"])
        still = await self._template_asset(conn, row, needs_album=names_album(nodes))
        await self._move_original(conn, nodes, row, still, filename)
        if row["livePhotoVideoId"] is not None:
            await self._moves.resume(conn, row["livePhotoVideoId"], MOVED)
            motion = await q.for_template_job(conn, row["livePhotoVideoId"], hidden=True)
            if motion is not None:
                name = motion_filename(filename, motion["originalPath"])
                await self._move_original(conn, nodes, motion, still, name)
        return True

    async def _template_asset(
        self, conn: Conn, row: dict[str, Any], *, needs_album: bool
    ) -> tuple[TemplateAsset, Album | None]:
        # Immich reads the album only for a template that names one
        album = await q.first_album(conn, row["ownerId"], row["id"]) if needs_album else None
        asset = TemplateAsset(
            id=str(row["id"]),
            is_image=row["type"] == "IMAGE",
            original_path=row["originalPath"],
            file_created_at=row["fileCreatedAt"],
            make=row["make"],
            model=row["model"],
            lens_model=row["lensModel"],
        )
        return asset, (Album(name=album["name"], start=album["start"], end=album["end"]) if album else None)

    async def _move_original(
        self, conn: Conn, nodes: tuple[Node, ...], row: dict[str, Any],
        still: tuple[TemplateAsset, Album | None], filename: str,
    ) -> None:  # fmt: skip
        source: str = row["originalPath"]
        if row["isExternal"] or source.startswith(str(self._media / ENCODED_VIDEO)):
            return  # external files stay where they are; Android motion parts too
        if not row["fileSizeInByte"]:
            log.error("%s: asset %s missing exif info, skipping storage template migration", self.name, row["id"])
            return
        asset, album = still
        destination = template_destination(
            nodes, asset, filename=filename, source=source, album=album, zone=self._zone, exists=_exists,
            root=library_root(str(self._media), str(row["ownerId"]), row["storageLabel"]),
        )  # fmt: skip
        if destination != source:
            checksum = bytes(row["checksum"]) if self._verify_hash else None
            size = row["fileSizeInByte"]
            if not await self._moves.move(conn, row["id"], ORIGINAL, source, destination, size=size, checksum=checksum):
                return
        # the sidecar follows the original, also when an earlier run moved only the original
        sidecar = row["sidecarPath"]
        if sidecar and sidecar != f"{destination}.xmp":
            await self._moves.move(conn, row["id"], SIDECAR, sidecar, f"{destination}.xmp")
