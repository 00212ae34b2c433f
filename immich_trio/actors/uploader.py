"""The uploader actor: turns a fully received, staged upload into an asset, durably.

The HTTP layer streams the body into staging files (``storage/files.py``) and then asks this
actor to ingest them. The order of effects is what makes a crash harmless:

1. one transaction: quota, live-photo link, ``asset`` (duplicates detected by
   ``UQ_assets_owner_checksum``), ``asset_exif`` with the size, the sidecar's ``asset_file``,
   ``asset_metadata``, and the ``AssetExtractMetadata`` job, held (not claimable); commit;
2. rename the staging files into Immich's layout, fsync the directories;
3. reply (the asset is durable now: row committed, file fsynced and in place);
4. release the held job (after the reply: one commit less in the client's wait).

A crash before 1 commits leaves staging files without a row, a crash between 1 and 2 leaves
them with one; ``storage/recovery.py`` (run before HTTP starts, see ``supervise``) deletes the
first kind and finishes the rename of the second, then every held job whose file is in
place is released (which also covers a crash between 2 and 3). No job ever sees a file that
is not in place yet.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import attrs
import trio

from immich_trio.reactor import Actor, Address, ReplyTo, Restart, Supervisor
from immich_trio.sql import events, jobs
from immich_trio.sql import workflows as workflows_q
from immich_trio.sql.assets import upload as q
from immich_trio.sql.pool import Pool
from immich_trio.storage import files, recovery

log = logging.getLogger(__name__)

SERVICE_NAME = "uploader"
"""The uploader's name in the status tree."""

INGEST_CONCURRENCY = 4
"""Uploads ingested at once; each holds one database connection for a short transaction."""
INGEST_INBOX = 8
QUOTA_EXCEEDED = "Quota has been exceeded!"


class UploadRejected(Exception):
    """The upload breaks a rule; ``message`` is Immich's 400 message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@attrs.define(eq=False)
class UploadClaim:
    """Who owns the staging files of an upload in flight: the asker until the actor takes them.

    The asker may give up (timeout, client gone) while its message still waits in the inbox;
    ``withdraw`` and ``take`` decide, without a race (both are synchronous, in one Trio
    thread), whether the asker deletes the files or the actor ingests them.
    """

    _state: str = "offered"

    def take(self) -> bool:
        if self._state != "offered":
            return False
        self._state = "taken"
        return True

    def withdraw(self) -> bool:
        if self._state != "offered":
            return False
        self._state = "withdrawn"
        return True


@attrs.frozen(kw_only=True)
class StagedUpload:
    """One received upload: its staging files (fsynced, still open and locked) and its fields."""

    asset_id: UUID
    owner_id: UUID
    file: files.StagedFile
    sidecar: files.StagedFile | None = None
    extension: str  # of the original, case kept
    original_file_name: str
    asset_type: str  # IMAGE | VIDEO
    file_created_at: datetime
    file_modified_at: datetime
    is_favorite: bool = False
    visibility: str = "timeline"
    duration: int | None = None
    live_photo_video_id: UUID | None = None
    metadata: tuple[tuple[str, dict[str, Any]], ...] = ()
    claim: UploadClaim = attrs.field(factory=UploadClaim)

    def discard(self) -> None:
        """Delete the staging files (synchronous, so it also works in a cancelled scope)."""
        self.file.discard()
        if self.sidecar is not None:
            self.sidecar.discard()

    def close(self) -> None:
        self.file.close()
        if self.sidecar is not None:
            self.sidecar.close()


@attrs.frozen(kw_only=True)
class IngestUpload:
    upload: StagedUpload
    reply_to: ReplyTo[IngestReply]


@attrs.frozen(kw_only=True)
class IngestReply:
    asset_id: UUID
    duplicate: bool


UploaderMsg = IngestUpload


class _Duplicate(Exception):
    pass


class Uploader(Actor[UploaderMsg]):
    """Owns ingest: the asset rows of uploads and the move of their files into place.

    Inbox: ``IngestUpload`` (ask; answered with ``IngestReply``, or ``UploadRejected`` for
    quota / live-photo errors). Backpressure: a bounded inbox of ``INGEST_INBOX`` and
    ``INGEST_CONCURRENCY`` ingests at a time; an HTTP request waits for a slot before it
    answers. Errors: a rejected or failed ingest before commit deletes the staging files; a
    failure after commit leaves them for recovery at the next start and fails the ask.
    """

    inbox_capacity: ClassVar[int] = INGEST_INBOX
    concurrency: ClassVar[int] = INGEST_CONCURRENCY

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(name=name)
        self._pool = pool
        self._media = media.absolute()
        self._created = 0
        self._duplicates = 0

    def extra_status(self) -> dict[str, object]:
        return {"created": self._created, "duplicates": self._duplicates}

    async def handle(self, msg: UploaderMsg) -> None:
        match msg:
            case IngestUpload(upload=upload, reply_to=reply_to):
                if not upload.claim.take():
                    return  # the asker gave up and deleted the files
                try:
                    reply = await self._ingest(upload)
                except UploadRejected as exc:
                    reply_to.fail(exc)
                    return
                reply_to.send(reply)
                if not reply.duplicate:
                    # Should this fail, recovery releases the job at the next start.
                    async with self._pool.connection() as conn:
                        await jobs.release_held(conn, [reply.asset_id])

    async def _ingest(self, upload: StagedUpload) -> IngestReply:
        original = files.upload_path(self._media, upload.owner_id, uuid.uuid4(), upload.extension)
        sidecar = None
        if upload.sidecar is not None:
            sidecar = files.sidecar_upload_path(self._media, upload.owner_id, uuid.uuid4())
        committed = False
        try:
            existing = await self._commit(upload, original, sidecar)
            if existing is not None:
                self._duplicates += 1
                return IngestReply(asset_id=existing, duplicate=True)
            committed = True
            await trio.to_thread.run_sync(self._place, upload, original, sidecar)
            self._created += 1
            return IngestReply(asset_id=upload.asset_id, duplicate=False)
        finally:
            if committed:
                upload.close()  # placed, or left in staging for recovery to roll forward
            else:
                upload.discard()

    async def _commit(self, upload: StagedUpload, original: Path, sidecar: Path | None) -> UUID | None:
        """Run the ingest transaction; the id of the existing asset if this is a duplicate."""
        async with self._pool.connection() as conn:
            try:
                # Pipelined: BEGIN and the statements whose results nobody waits for travel
                # with the next one that is read (about half the round trips).
                async with conn.pipeline(), conn.transaction():
                    await self._insert(conn, upload, original, sidecar)
            except _Duplicate:
                existing = await q.upload_duplicate(conn, upload.owner_id, upload.file.sha1)
                if existing is None:  # deleted in between: nothing to point at
                    raise RuntimeError("duplicate asset vanished during upload") from None
                return existing
        return None

    async def _insert(self, conn: Any, upload: StagedUpload, original: Path, sidecar: Path | None) -> None:
        size = upload.file.size
        if not await q.add_quota_usage(conn, upload.owner_id, size):
            raise UploadRejected(QUOTA_EXCEEDED)
        if upload.live_photo_video_id is not None:
            await self._link_live_photo(conn, upload)
        inserted = await q.insert_uploaded(
            conn,
            asset_id=upload.asset_id,
            owner_id=upload.owner_id,
            asset_type=upload.asset_type,
            original_path=str(original),
            original_file_name=upload.original_file_name,
            checksum=upload.file.sha1,
            file_created_at=upload.file_created_at,
            file_modified_at=upload.file_modified_at,
            is_favorite=upload.is_favorite,
            duration=upload.duration,
            visibility=upload.visibility,
            live_photo_video_id=upload.live_photo_video_id,
        )
        if not inserted:
            raise _Duplicate
        if upload.metadata:
            await q.upsert_metadata(conn, upload.asset_id, upload.metadata)
        if sidecar is not None:
            await q.insert_file(conn, upload.asset_id, "sidecar", str(sidecar))
        await q.insert_exif_size(conn, upload.asset_id, size)
        # Held until the file is in place (released after the rename, or by recovery).
        await jobs.enqueue(
            conn, "metadataExtraction", "AssetExtractMetadata", {"id": str(upload.asset_id), "source": "upload"},
            run_after=jobs.HELD_UNTIL,
        )
        await workflows_q.queue_asset_trigger(
            conn, owner=upload.owner_id, asset_id=upload.asset_id, trigger="AssetCreate", run_after=jobs.HELD_UNTIL
        )

    async def _link_live_photo(self, conn: Any, upload: StagedUpload) -> None:
        assert upload.live_photo_video_id is not None
        motion = await q.live_photo_part(conn, upload.live_photo_video_id)
        if motion is None:
            raise UploadRejected("Live photo video not found")
        if motion["type"] != "VIDEO":
            raise UploadRejected("Live photo video must be a video")
        if motion["ownerId"] != upload.owner_id:
            raise UploadRejected("Live photo video does not belong to the user")
        if motion["visibility"] == "timeline":
            await q.hide(conn, upload.live_photo_video_id)
            # Immich's onBeforeLink emits asset.hide: the owner's clients drop it from view.
            await events.publish_to_user(conn, upload.owner_id, "on_asset_hidden", str(upload.live_photo_video_id))

    @staticmethod
    def _place(upload: StagedUpload, original: Path, sidecar: Path | None) -> None:
        if upload.sidecar is not None and sidecar is not None:
            files.move_into_place(upload.sidecar.path, sidecar)
        files.move_into_place(upload.file.path, original)


# -- wiring ------------------------------------------------------------------------------


async def _staged_targets(pool: Pool, asset_ids: Sequence[UUID]) -> dict[UUID, recovery.Targets]:
    async with pool.connection() as conn:
        rows = await q.staged_targets(conn, asset_ids)
    return {
        asset_id: recovery.Targets(
            original=Path(row["originalPath"]),
            sidecar=Path(row["sidecarPath"]) if row["sidecarPath"] else None,
        )
        for asset_id, row in rows.items()
    }


async def recover_staged_uploads(
    pool: Pool, media: Path, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Roll staging files forward or back, then let the jobs of placed uploads run
    (a supervised one-shot task, before HTTP)."""
    report = await recovery.recover_uploads(media, partial(_staged_targets, pool))
    async with pool.connection() as conn:
        held = await jobs.held_assets(conn)
        placed = await trio.to_thread.run_sync(lambda: [a for a, path in held.items() if Path(path).is_file()])
        if placed:
            await jobs.release_held(conn, placed)
            log.info("upload recovery: released the jobs of %d placed upload(s)", len(placed))
    if report.rolled_forward or report.rolled_back:
        log.info(
            "upload recovery: %d file(s) moved into place, %d deleted, %d in use",
            len(report.rolled_forward), len(report.rolled_back), len(report.in_use),
        )
    task_status.started()


def supervise(root: Supervisor, pool: Pool, media: Path) -> Address[UploaderMsg]:
    """Add upload recovery and the uploader to ``root`` (before the HTTP task); its address.

    Needs the database pool and migrations started earlier in ``root``.
    """
    root.add_task("upload-recovery", partial(recover_staged_uploads, pool, media), restart=Restart.TRANSIENT)
    return root.add_actor(Uploader(pool, media))
