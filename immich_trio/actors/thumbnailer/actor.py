"""The thumbnailer actor: runs ``AssetGenerateThumbnails`` jobs, decoding in codec worker processes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.thumbnailer.codecs import (
    WEB_SUPPORTED_EXTENSIONS,
    render_image_thumbnails,
)
from immich_trio.actors.thumbnailer.edited import apply_rendered, render_edited, run_edit_render
from immich_trio.actors.thumbnailer.files import write_all
from immich_trio.actors.thumbnailer.options import (
    Rendered,
    ThumbnailError,
    ThumbnailOptions,
    ThumbnailResult,
)
from immich_trio.actors.thumbnailer.video import render_video_thumbnails
from immich_trio.actors.thumbnailer.workers import CodecWorkers, open_codec_workers
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.face_service import facial_recognition_enabled
from immich_trio.ml.ocr.service import ocr_enabled
from immich_trio.ml.service import clip_enabled
from immich_trio.sql import events
from immich_trio.sql import pipeline as q
from immich_trio.sql.assets import asset_edits
from immich_trio.sql.jobs import Job, enqueue_job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

log = logging.getLogger(__name__)

SERVICE_NAME = "thumbnailer"
"""The actor's name in the status tree."""
HANDLER_SLOTS = 32
"""Messages handled at once. The dispatcher sends at most the queue's concurrency; the
decoding itself is bounded by a limiter sized from ``job.thumbnailGeneration.concurrency``,
which is also the most codec worker processes alive at once."""
INBOX = 32
NOTIFY_SOURCES = frozenset({"upload"})
"""Job sources after which the owner's clients hear of the new asset (or ``notify: true``)."""
NOTIFY_VISIBILITIES = frozenset({"timeline", "archive"})
UPLOAD_EVENT = "on_upload_success"
QUEUE = QueueName.THUMBNAIL_GENERATION


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class ThumbnailerActor(QueueWorker):
    """Owns the writing of preview, thumbnail and fullsize files under ``<media>/thumbs``.

    Inbox: ``RunJob`` for ``AssetGenerateThumbnails`` and ``AssetEditThumbnailGeneration``
    (edited.py). An image with edits also gets its ``_edited`` files rendered anew by
    ``AssetGenerateThumbnails``, and takes the edited thumbhash, as Immich's
    ``handleGenerateThumbnails`` does. Hidden assets and anything but
    images and videos are ``skipped`` (videos: one frame through PyAV, video.py). Images are decoded
    once in a codec worker process (workers.py: reused, under a memory ceiling) and the encoded
    files it answers with are written atomically at Immich's paths by the actor; the answer's
    ``apply`` upserts the ``asset_file`` rows, sets ``asset.thumbhash`` (and the size when
    metadata had none) and publishes ``on_upload_success`` for uploads, in the
    dispatcher's transaction, so the event leaves only if the rows commit.
    Backpressure: the dispatcher claims no more than the queue's concurrency; decoding runs
    in worker processes under a ``CapacityLimiter`` of that size (live from the system config).
    Errors: a corrupt or unreadable original, one too large for the decode memory budget
    (budget.py), one whose decoder hits the worker's memory ceiling or kills its worker,
    answers ``failed`` with the reason and no retry; a dead worker is replaced on the next job
    and the actor carries on. The workers live as long as one run of the actor.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QUEUE

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media.absolute()
        self._workers: CodecWorkers | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_codec_workers() as self._workers:
            try:
                await super().run(task_status=task_status)
            finally:
                self._workers = None

    def extra_status(self) -> dict[str, object]:
        workers = self._workers.statistics() if self._workers is not None else None
        return {**super().extra_status(), "codecWorkers": attrs.asdict(workers) if workers else None}

    async def _render(self, render: Callable[[], Rendered], what: str) -> ThumbnailResult:
        """``render`` in a codec worker, then its files written here (atomically, all or none)."""
        if self._workers is None:
            raise RuntimeError("the thumbnailer is not running")
        rendered = await self._workers.run(render, limiter=self.limiter, what=what)
        await trio.to_thread.run_sync(write_all, rendered.outputs)
        return rendered.result

    # -- jobs --------------------------------------------------------------------------

    async def run_job(self, job: Job) -> JobResult:
        if job.name == JobName.ASSET_EDIT_THUMBNAIL_GENERATION:
            return await self._render_edits(job.data)
        if job.name != JobName.ASSET_GENERATE_THUMBNAILS:
            return self.unexpected(job)
        return await self._generate(job.data)

    async def _render_edits(self, data: Any) -> JobResult:
        asset_id = data.get("id")
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")

        async def options_of(conn: AsyncConnection[Any]) -> ThumbnailOptions:
            return ThumbnailOptions.from_config((await self.current_config(conn))["image"])

        async def run(render: Callable[[], Rendered]) -> ThumbnailResult:
            return await self._render(render, f"asset {asset_id}")

        try:
            async with self._pool.connection() as conn:
                return await run_edit_render(conn, asset_id, media=self._media, options_of=options_of, run=run)
        except ThumbnailError as exc:
            return JobResult(status="failed", error=exc.reason, retry=not exc.permanent)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            return JobResult(status="failed", error=_describe(exc))

    async def _generate(self, data: Any) -> JobResult:
        asset_id = data.get("id")
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        async with self._pool.connection() as conn:
            asset = await q.asset_for_thumbnails(conn, asset_id)
            config = await self.current_config(conn) if asset is not None else None
            edits = await asset_edits.edits(conn, asset_id) if asset is not None else []
        if asset is None or config is None:
            return JobResult(status="skipped")  # deleted since
        notify = data.get("source") in NOTIFY_SOURCES or data.get("notify") is True
        owner_id = str(asset["ownerId"])
        announce = partial(
            _announce,
            owner_id=owner_id,
            asset_id=asset_id,
            notify=notify,
            smart_search=clip_enabled(config),
            detect_faces=facial_recognition_enabled(config),
            ocr=ocr_enabled(config),
            source=data.get("source"),
            encode_video=asset["type"] == "VIDEO",
        )
        if asset["visibility"] == "hidden":
            # No thumbnails and no events for hidden parts; a hidden video is still transcoded.
            follow = partial(_encode_video, asset_id=asset_id) if notify and asset["type"] == "VIDEO" else None
            return JobResult(status="skipped", apply=follow)
        if asset["type"] not in ("IMAGE", "VIDEO"):
            # Immich still announces a skipped asset, so the upload reaches the timeline.
            return JobResult(status="skipped", apply=announce)
        try:
            options = ThumbnailOptions.from_config(config["image"])
        except (KeyError, TypeError, ValueError) as exc:
            return JobResult(status="failed", error=f"invalid image settings: {exc}")
        source = Path(asset["originalPath"])
        if asset["type"] == "VIDEO":
            return await self._generate_video(source, asset_id, owner_id, options, announce)
        fmt_preview, fmt_thumb = options.preview.format, options.thumbnail.format
        equirectangular = (asset["projectionType"] or "").upper() == "EQUIRECTANGULAR"
        wants_fullsize = (options.fullsize.enabled or equirectangular) and (
            source.suffix.lower() not in WEB_SUPPORTED_EXTENSIONS
        )
        render = partial(
            render_image_thumbnails,
            source,
            preview_path=files.thumbnail_path(self._media, owner_id, asset_id, "preview", fmt_preview),
            thumbnail_path=files.thumbnail_path(self._media, owner_id, asset_id, "thumbnail", fmt_thumb),
            fullsize_path=files.thumbnail_path(
                self._media, owner_id, asset_id, "fullsize", options.fullsize.format
            )
            if wants_fullsize
            else None,
            options=options,
        )
        render_edits = partial(render_edited, source, edits, self._media, owner_id, asset_id, options)
        edited: ThumbnailResult | None = None
        try:
            result = await self._render(render, source.name)
            if edits:
                edited = await self._render(render_edits, source.name)
        except ThumbnailError as exc:
            log.warning("thumbnailer: asset %s (%s): %s", asset_id, source, exc.reason)
            return JobResult(status="failed", error=exc.reason, retry=not exc.permanent)
        except OSError as exc:  # e.g. the original vanished before the decoder opened it
            return JobResult(status="failed", error=_describe(exc))
        apply = partial(
            _apply,
            asset_id=asset_id,
            result=result,
            edited=edited,
            options=options,
            announce=announce,
        )
        return JobResult(status="success", apply=apply)

    async def _generate_video(
        self,
        source: Path,
        asset_id: str,
        owner_id: str,
        options: ThumbnailOptions,
        announce: Callable[[AsyncConnection[Any]], Any],
    ) -> JobResult:
        """One representative frame → preview + thumbnail + thumbhash (video.py)."""
        render = partial(
            render_video_thumbnails,
            source,
            preview_path=files.thumbnail_path(self._media, owner_id, asset_id, "preview", options.preview.format),
            thumbnail_path=files.thumbnail_path(
                self._media, owner_id, asset_id, "thumbnail", options.thumbnail.format
            ),
            options=options,
        )
        try:
            result = await self._render(render, source.name)
        except ThumbnailError as exc:
            log.warning("thumbnailer: video %s (%s): %s", asset_id, source, exc.reason)
            return JobResult(status="failed", error=exc.reason, retry=not exc.permanent)
        apply = partial(_apply, asset_id=asset_id, result=result, edited=None, options=options, announce=announce)
        return JobResult(status="success", apply=apply)


async def _apply(
    conn: AsyncConnection[Any],
    *,
    asset_id: str,
    result: ThumbnailResult,
    edited: ThumbnailResult | None,
    options: ThumbnailOptions,
    announce: Callable[[AsyncConnection[Any]], Any],
) -> None:
    if not await q.lock_asset(conn, asset_id):
        return  # deleted meanwhile (its files go with it)
    outputs = (
        ("preview", result.preview_path, options.preview.format, options.preview.progressive),
        (
            "thumbnail",
            result.thumbnail_path,
            options.thumbnail.format,
            options.thumbnail.progressive,
        ),
    )
    for kind, path, fmt, progressive in outputs:
        await q.upsert_file(
            conn,
            asset_id,
            kind,
            str(path),
            is_progressive=progressive and fmt == "jpeg",
            # WebP keeps the alpha channel; JPEG flattens it.
            is_transparent=result.is_transparent and fmt == "webp",
        )
    if result.fullsize_path is not None:
        fo = options.fullsize
        await q.upsert_file(
            conn,
            asset_id,
            "fullsize",
            str(result.fullsize_path),
            is_progressive=fo.progressive and result.fullsize_path.suffix == ".jpeg",
            is_transparent=result.is_transparent and result.fullsize_path.suffix == ".webp",
        )
    else:
        await q.delete_file(conn, asset_id, "fullsize")
    await q.set_thumbhash(
        conn, asset_id, result.thumbhash, width=result.width, height=result.height
    )
    if edited is not None:  # the edited files, size and thumbhash win over the unedited ones
        await apply_rendered(conn, asset_id=asset_id, result=edited, options=options)
    await announce(conn)


async def _announce(
    conn: AsyncConnection[Any],
    *,
    owner_id: str,
    asset_id: str,
    notify: bool,
    smart_search: bool = False,
    detect_faces: bool = False,
    ocr: bool = False,
    source: object = None,
    encode_video: bool = False,
) -> None:
    """Tell the owner's clients about a processed upload (the relay checks visibility) and
    queue what follows thumbnails in Immich's pipeline (smart search, face detection, OCR;
    transcoding for a video). Immich queues ``SmartSearch``, ``AssetDetectFaces`` and ``Ocr``
    even with their feature off and the job skips; not queueing them is the same, quieter."""
    if notify:
        await events.publish(conn, owner_id, UPLOAD_EVENT, asset_id)
        if smart_search:
            data = {"id": asset_id, "source": source} if isinstance(source, str) else {"id": asset_id}
            await enqueue_job(conn, JobName.SMART_SEARCH, data)
        if detect_faces:
            await enqueue_job(conn, JobName.ASSET_DETECT_FACES, {"id": asset_id})
        if ocr:
            await enqueue_job(conn, JobName.OCR, {"id": asset_id})
        if encode_video:
            await _encode_video(conn, asset_id=asset_id)


async def _encode_video(conn: AsyncConnection[Any], *, asset_id: str) -> None:
    await enqueue_job(conn, JobName.ASSET_ENCODE_VIDEO, {"id": asset_id})
