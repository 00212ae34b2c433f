"""The metadata actor: runs ``AssetExtractMetadata`` jobs with one long-lived exiftool process."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.metadata.dates import TimezoneLookup, default_timezone_lookup
from immich_trio.actors.metadata.exiftool import EXECUTABLE, Exiftool, ExiftoolError
from immich_trio.actors.metadata.extract import extract_metadata
from immich_trio.actors.metadata.live_photos import (
    apply_motion_video,
    discard_motion_video,
    link_live_photo,
    prepare_motion_video,
)
from immich_trio.actors.metadata.motion_photo import PlacedMotionVideo
from immich_trio.actors.metadata.records import ExifRecord, ExtractedMetadata, FileFacts
from immich_trio.actors.metadata.sidecar import (
    EXTRACTION_SOURCE,
    apply_sidecar_write,
    plan_sidecar,
)
from immich_trio.actors.metadata.stream_probe import StreamProbe, VideoProbeError, probe_streams
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.reactor.background import run_in_background_thread
from immich_trio.sql import asset_streams as streams_q
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import map as map_q
from immich_trio.sql import pipeline as q
from immich_trio.sql import sidecars as sidecars_q
from immich_trio.sql import tags as tags_q
from immich_trio.sql import workflows as workflows_q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "metadata"
"""The actor's name in the status tree."""
HANDLER_SLOTS = 32
"""Messages handled at once. The dispatcher sends at most the queue's concurrency; the
work itself is bounded by a limiter sized from ``job.metadataExtraction.concurrency``."""
INBOX = 32
EXIFTOOL_TIMEOUT = 60.0
"""Seconds one exiftool request may take (waiting for the process included); past it the
process is killed, the job fails and the next request starts a fresh exiftool."""
ASSET_UPDATE_SOURCE = EXTRACTION_SOURCE
"""A re-extraction after a sidecar write tells the owner's clients (``on_asset_update``)."""
QUEUE = QueueName.METADATA_EXTRACTION
PROBE_THREADS = 2
"""Videos probed at once (FFmpeg reads headers, demuxes the packets for the keyframe list
and decodes one frame); separate from the
job limiter, which the job already holds."""

PROBED_IMAGE_SUFFIX = ".gif"
"""The one image type Immich's extraction also probes with ffprobe (duration, frame rate,
stream rows)."""

Now = Callable[[], datetime]


def _stat(path: str) -> os.stat_result:
    return os.stat(path)


def _facts(stat: os.stat_result, asset: dict[str, Any]) -> FileFacts:
    birth = getattr(stat, "st_birthtime", None)
    return FileFacts(
        size=stat.st_size,
        mtime=datetime.fromtimestamp(stat.st_mtime, UTC),
        birthtime=datetime.fromtimestamp(birth, UTC) if birth is not None else None,
        file_created_at=asset["fileCreatedAt"],
        file_modified_at=asset["fileModifiedAt"],
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class MetadataActor(QueueWorker):
    """Owns one exiftool ``-stay_open`` process (started in ``setup``, stopped in
    ``teardown``; the client restarts a dead or hung one by itself).

    Inbox: ``RunJob`` for ``AssetExtractMetadata`` and ``SidecarWrite`` (the user's locked
    edits written into the XMP sidecar with the same exiftool, see ``sidecar.py``). It reads the original (and its XMP
    sidecar) with exiftool, maps the tags with ``extract_metadata`` and answers ``success``
    with an ``apply`` that writes ``asset_exif`` (minus the user's locked properties), the
    asset's dates/size/duration, ``asset_job_status.metadataExtractedAt`` and enqueues the
    next step, all in the dispatcher's transaction.
    Backpressure: the dispatcher claims no more than the queue's concurrency; the work runs
    under a limiter of that size (live from the system config).
    Errors: a vanished file, an exiftool failure or a timeout answers ``failed`` with the
    reason (the dispatcher retries, then records it); the actor carries on.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QUEUE

    def __init__(
        self,
        pool: Pool,
        media: Path,
        *,
        now: Now,
        name: str = SERVICE_NAME,
        executable: str = EXECUTABLE,
        timezone_lookup: TimezoneLookup | None = None,
        exiftool_timeout: float = EXIFTOOL_TIMEOUT,
    ) -> None:
        super().__init__(pool, name=name)
        self._media = media.absolute()
        self._now = now
        self._executable = executable
        self._lookup = timezone_lookup
        self._lookup_loaded = timezone_lookup is not None
        self._exiftool_timeout = exiftool_timeout
        self._exiftool: Exiftool | None = None
        self._probe_limiter = trio.CapacityLimiter(PROBE_THREADS)

    # -- lifecycle ---------------------------------------------------------------------

    async def setup(self) -> None:
        if not self._lookup_loaded:
            # timezonefinder loads its data file on construction: not on the event loop.
            self._lookup = await trio.to_thread.run_sync(default_timezone_lookup)
            self._lookup_loaded = True
        await super().setup()
        if shutil.which(self._executable) is None:
            # Not fatal: each job fails with the reason, and installing it fixes the next run.
            log.warning("metadata: %r not found; metadata jobs will fail", self._executable)
        # The process itself starts with the first request (and restarts after a failure).
        self._exiftool = Exiftool(executable=self._executable, owner=str(self._media))

    async def teardown(self) -> None:
        await super().teardown()
        if self._exiftool is not None:
            exiftool, self._exiftool = self._exiftool, None
            await exiftool.aclose()

    def extra_status(self) -> dict[str, object]:
        exiftool = self._exiftool.statistics() if self._exiftool is not None else None
        return {
            **super().extra_status(),
            "exiftool": None
            if exiftool is None
            else {
                "pid": exiftool.pid,
                "requests": exiftool.requests,
                "failures": exiftool.failures,
                "restarts": exiftool.restarts,
            },
        }

    # -- jobs --------------------------------------------------------------------------

    async def run_job(self, job: Job) -> JobResult:
        match job.name:
            case JobName.ASSET_EXTRACT_METADATA:
                async with self.limiter:
                    return await self._run_extraction(job.data)
            case JobName.SIDECAR_WRITE:
                async with self.limiter:
                    return await self._write_sidecar(job.data)
            case _:
                return self.unexpected(job)

    async def _write_sidecar(self, data: Any) -> JobResult:
        asset_id = data.get("id")
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        async with self._pool.connection() as conn:
            row = await sidecars_q.for_sidecar_write(conn, asset_id)
        if row is None:
            return JobResult(status="skipped")  # deleted since: no sidecar to write
        plan = plan_sidecar(row)
        if plan is not None:
            if self._exiftool is None:
                return JobResult(status="failed", error="exiftool is not running")
            try:
                with trio.fail_after(self._exiftool_timeout):
                    await self._exiftool.write_tags(plan.path, plan.writes)
            except (OSError, ExiftoolError, trio.TooSlowError) as exc:
                reason = _describe(exc)
                log.warning("metadata: sidecar of asset %s (%s): %s", asset_id, plan.path, reason)
                return JobResult(status="failed", error=reason)
        new_path = plan.path if plan is not None and plan.is_new else None
        return JobResult(
            status="success" if plan is not None else "skipped",
            apply=partial(apply_sidecar_write, asset_id=asset_id, new_path=new_path),
        )

    async def _run_extraction(self, data: Any) -> JobResult:
        asset_id = data.get("id")
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        source = data.get("source")
        async with self._pool.connection() as conn:
            asset = await q.asset_for_metadata(conn, asset_id)
        if asset is None:
            return JobResult(status="skipped")  # deleted since: nothing to extract
        try:
            extracted, streams = await self._extract(asset)
        except VideoProbeError as exc:
            # As Immich's ffprobe failure does, the job fails; the row and original stay.
            log.warning("metadata: asset %s (%s): %s", asset_id, asset["originalPath"], exc.reason)
            return JobResult(status="failed", error=exc.reason, retry=False)  # the file will not change
        except (OSError, ExiftoolError, trio.TooSlowError) as exc:
            reason = _describe(exc)
            log.warning("metadata: asset %s (%s): %s", asset_id, asset["originalPath"], reason)
            return JobResult(status="failed", error=reason)
        motion = None
        if extracted.motion_photo and self._exiftool is not None:
            motion = await prepare_motion_video(self._pool, self._exiftool, self._media, asset)
        apply = partial(
            self._apply,
            motion=motion,
            asset_id=asset_id,
            owner_id=str(asset["ownerId"]),
            is_video=asset["type"] == "VIDEO",
            source=source if isinstance(source, str) else None,
            extracted=extracted,
            streams=streams,
        )
        return JobResult(status="success", apply=apply)

    async def _extract(self, asset: dict[str, Any]) -> tuple[ExtractedMetadata, StreamProbe | None]:
        exiftool = self._exiftool
        if exiftool is None:
            raise ExiftoolError("exiftool is not running")
        path = str(asset["originalPath"])
        is_video = asset["type"] == "VIDEO"
        stat = await trio.to_thread.run_sync(_stat, path)  # a vanished file fails here
        with trio.fail_after(self._exiftool_timeout):
            file_tags = await exiftool.read_tags(path, extract_embedded=is_video)
        if file_tags.get("Error"):
            # As Immich does, an unreadable container still gets what can be said of it
            # (size, dates from the file system); the thumbnailer decides about the pixels.
            log.info("metadata: exiftool on %s: %s", path, file_tags["Error"])
        sidecar_tags = None
        sidecar = asset["sidecarPath"]
        if sidecar:
            try:
                with trio.fail_after(self._exiftool_timeout):
                    sidecar_tags = await exiftool.read_sidecar(sidecar)
            except FileNotFoundError:
                log.warning("metadata: sidecar %s of %s is missing", sidecar, path)
        video = probe = None
        if is_video or path.lower().endswith(PROBED_IMAGE_SUFFIX):  # Immich probes GIFs too
            probe = await run_in_background_thread(partial(probe_streams, path), limiter=self._probe_limiter)
            video = probe.facts()
        # The mapping is pure but not trivial (dates, zones); it is cheap next to exiftool.
        return extract_metadata(
            file_tags,
            _facts(stat, asset),
            original_path=path,
            sidecar_tags=sidecar_tags,
            is_video=is_video,
            video=video,
            timezone_lookup=self._lookup,
        ), probe

    async def _geocoded(self, conn: AsyncConnection[Any], exif: ExifRecord) -> ExifRecord:
        """City, state and country from the GPS position when ``reverseGeocoding.enabled``
        and both coordinates are non-zero, as Immich does (behaviour.md §16)."""
        config = await self.current_config(conn)
        if not config.get("reverseGeocoding", {}).get("enabled") or not (exif.latitude and exif.longitude):
            return exif
        place = await map_q.reverse_geocode(conn, exif.latitude, exif.longitude)
        return attrs.evolve(exif, city=place.city, state=place.state, country=place.country)

    async def _apply(
        self,
        conn: AsyncConnection[Any],
        *,
        asset_id: str,
        owner_id: str,
        is_video: bool,
        source: str | None,
        extracted: ExtractedMetadata,
        streams: StreamProbe | None = None,
        motion: PlacedMotionVideo | None = None,
    ) -> None:
        if not await q.lock_asset(conn, asset_id):
            if motion is not None:
                await discard_motion_video(motion)
            return  # deleted meanwhile
        locked = await q.locked_properties(conn, asset_id)
        exif = await self._geocoded(conn, extracted.exif)
        await q.upsert_exif(conn, asset_id, exif.columns(locked=locked))
        if streams is not None:
            await streams_q.replace_streams(
                conn, asset_id, video=streams.video_row(), audio=streams.audio_row(), keyframes=streams.keyframe_row()
            )
        await tags_q.apply_exif_tags(conn, asset_id, owner_id)
        await q.update_asset_metadata(
            conn,
            asset_id,
            file_created_at=extracted.file_created_at,
            local_date_time=extracted.local_date_time,
            file_modified_at=extracted.file_modified_at,
            duration=extracted.duration_ms,
            keep_duration=is_video,
            width=extracted.width,
            height=extracted.height,
        )
        if motion is not None:
            await apply_motion_video(conn, still_id=asset_id, owner_id=owner_id, placed=motion, extracted=extracted)
        await link_live_photo(conn, asset_id=asset_id, cid=extracted.exif.live_photo_cid)
        await q.mark_metadata_extracted(conn, asset_id, self._now())
        if source != ASSET_UPDATE_SOURCE:  # Immich's loop guard: no workflows after a sidecar write
            await workflows_q.queue_asset_trigger(
                conn, owner=owner_id, asset_id=asset_id, trigger="AssetMetadataExtraction"
            )
        # Immich's AssetMetadataExtracted: the storage template job runs next (it skips
        # when the template is off) and queues thumbnails for the sources that want them.
        data: dict[str, Any] = {"id": asset_id, "source": source} if source else {"id": asset_id}
        await jobs_q.enqueue_job(
            conn, JobName.STORAGE_TEMPLATE_MIGRATION_SINGLE, data, dedupe_key=asset_id
        )
        if source == ASSET_UPDATE_SOURCE:
            await events.publish(conn, owner_id, "on_asset_update", asset_id)
