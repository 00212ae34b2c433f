"""The transcoder actor: ``AssetEncodeVideo`` and ``AssetEncodeVideoQueueAll`` (queue
``videoConversion``), as Immich's ``MediaService.handleVideoConversion`` runs them."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import av
import av.codec.codec
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.metadata.stream_probe import StreamProbe, VideoProbeError, probe_streams
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.reactor.background import lower_thread_priority
from immich_trio.sql import transcode as q
from immich_trio.sql.jobs import Job, enqueue_job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

from .encode import TranscodeError, run_plan
from .plan import PlanError, check_acceleration, encode_plan
from .policy import Target, UnsupportedPolicy, is_remux_required, transcode_target
from .settings import AudioStream, FfmpegSettings, VideoFormat, VideoStream

log = logging.getLogger(__name__)

SERVICE_NAME = "transcoder"
JOBS: tuple[JobName, ...] = (JobName.ASSET_ENCODE_VIDEO, JobName.ASSET_ENCODE_VIDEO_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 8
TEMP_SUFFIX = ".transcode.part"
STALE_TEMP_AGE = 600.0
"""Seconds after which a temp file nobody writes is a crashed encode's (swept at start).
An encode in progress touches its file continuously; another process's stays younger."""
DRI = Path("/dev/dri")

T = TypeVar("T")


def temp_output(output: Path) -> Path:
    """A hidden name beside ``output``, unique per attempt."""
    return output.with_name(f".{output.stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def sweep_stale_temps(root: Path, *, older_than: float, now: float | None = None) -> list[Path]:
    """Remove the temp files of encodes that died with their process; the ones removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    limit = (time.time() if now is None else now) - older_than
    for path in root.rglob(f".*{TEMP_SUFFIX}"):
        try:
            if path.stat().st_mtime <= limit:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


def _dri_devices() -> list[str]:
    try:
        return sorted(os.listdir(DRI))
    except OSError:
        return []


async def run_stoppable(fn: Callable[[threading.Event], T], *, limiter: trio.CapacityLimiter) -> T:
    """``fn(stop)`` in a new low-priority thread under ``limiter``. Cancelled, it sets
    ``stop`` and waits for ``fn`` to clean up and return before the cancellation goes on."""
    async with limiter:
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        stop = threading.Event()
        outcome: list[Any] = []

        def work() -> None:
            lower_thread_priority()
            try:
                outcome.append((True, fn(stop)))
            except BaseException as exc:  # handed to the caller's task
                outcome.append((False, exc))
            try:
                token.run_sync_soon(done.set)
            except trio.RunFinishedError:  # pragma: no cover - the run ended under us
                pass

        threading.Thread(target=work, name="transcode", daemon=True).start()
        try:
            await done.wait()
        except trio.Cancelled:
            stop.set()
            with trio.CancelScope(shield=True):
                await done.wait()
            raise
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


def codec_name(decoder: str) -> str:
    """ffprobe's codec name for a decoder's (``mp3float`` → ``mp3``, ``libdav1d`` → ``av1``)."""
    try:
        return str(av.codec.Codec(decoder, "r").canonical_name)
    except (av.codec.codec.UnknownCodecError, ValueError):
        return decoder


def _streams(probe: StreamProbe) -> tuple[VideoStream, AudioStream | None, VideoFormat]:
    """The probe as the policy reads it; VideoProbeError without a video stream."""
    v = probe.video
    if v is None:
        raise VideoProbeError("no video stream")
    video = VideoStream(
        index=v.index, width=v.width, height=v.height, rotation=v.rotation % 360,
        codec_name=codec_name(v.codec_name), pixel_format=v.pixel_format, bitrate=v.bitrate,
        frame_count=v.frame_count, color_transfer=v.color_transfer,
    )  # fmt: skip
    a = probe.audio
    audio = None if a is None else AudioStream(index=a.index, codec_name=codec_name(a.codec_name), bitrate=a.bitrate)
    return video, audio, VideoFormat(format_name=probe.format_name, format_long_name=probe.format_long_name)


def _encode_in_thread(source: Path, temp: Path, output: Path, plan: Any, rotation: int, stop: threading.Event) -> None:
    files.make_dirs(output.parent)
    run_plan(source, temp, plan, rotation=rotation, stop=stop)
    try:
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        files.move_into_place(temp, output)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class TranscoderActor(QueueWorker):
    """Owns ``<media>/encoded-video/<owner>/<xx>/<yy>/<asset>.mp4`` and the ``encoded_video``
    rows of ``asset_file``.

    Inbox: ``RunJob`` for ``AssetEncodeVideo {id}`` and ``AssetEncodeVideoQueueAll {force}``.
    The video is probed from its file (PyAV, as Immich's ffprobe), the ``ffmpeg`` settings
    decide (policy.py, plan.py), and the encode runs in a low-priority worker thread under
    ``self.limiter`` (``job.videoConversion.concurrency``) into a hidden temp file, fsynced
    and renamed into place; the answer's ``apply`` upserts the row. A video that no longer
    needs transcoding loses its row and file (``FileDelete``); the job is ``skipped``.
    The dispatcher renews the job's lease while the encode runs; cancelled (shutdown), the
    encode stops between packets and removes its temp file; temp files of a crashed process
    are swept at start. Errors: an unreadable source or an FFmpeg refusal fails the job with
    FFmpeg's reason and leaves nothing in ``encoded-video/``; the actor carries on.
    Hardware acceleration: with no usable device the job fails with Immich's message
    (``No /dev/dri devices found…``); NVENC, which needs none, falls back to software as
    Immich's retry chain ends when the hardware encode fails.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.VIDEO_CONVERSION

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media.absolute()
        self._dri: list[str] = []

    async def setup(self) -> None:
        await super().setup()
        self._dri = await trio.to_thread.run_sync(_dri_devices)
        swept = await trio.to_thread.run_sync(
            partial(sweep_stale_temps, self._media / "encoded-video", older_than=STALE_TEMP_AGE)
        )
        if swept:
            log.info("%s: removed %d unfinished encodes", self.name, len(swept))

    async def run_job(self, job: Job) -> JobResult:
        if job.name == JobName.ASSET_ENCODE_VIDEO_QUEUE_ALL:
            return JobResult(status="success", apply=partial(_queue_all, force=bool(job.data.get("force"))))
        if job.name != JobName.ASSET_ENCODE_VIDEO:
            return self.unexpected(job)
        asset_id = job.data.get("id") if isinstance(job.data, dict) else None
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        return await self._encode(asset_id)

    async def _encode(self, asset_id: str) -> JobResult:
        async with self._pool.connection() as conn:
            asset = await q.asset_for_video_conversion(conn, asset_id)
            config = await self.current_config(conn) if asset is not None else None
        if asset is None or config is None:
            return JobResult(status="failed", error=f"video asset {asset_id} not found", retry=False)
        source = Path(asset["originalPath"])
        try:
            probe = await trio.to_thread.run_sync(partial(probe_streams, str(source), keyframes=False))
            video, audio, fmt = _streams(probe)
        except VideoProbeError as exc:
            log.warning("transcoder: asset %s: %s", asset_id, exc.reason)
            return JobResult(status="failed", error=exc.reason, retry=False)
        if not video.width or not video.height:
            log.warning("Skipped transcoding for asset %s: no video dimensions", asset_id)
            return JobResult(status="failed", error="no video dimensions", retry=False)
        try:
            settings = FfmpegSettings.from_config(config.get("ffmpeg", {}))
            target = transcode_target(settings, video, audio)
            if target is Target.NONE and not is_remux_required(settings, fmt):
                return self._not_required(asset_id, asset["encodedVideoPath"])
            check_acceleration(settings, self._dri)
            plan = encode_plan(settings, target, video, audio)
        except (UnsupportedPolicy, PlanError, TypeError, ValueError) as exc:
            log.error("transcoder: asset %s: %s", asset_id, exc)
            return JobResult(status="failed", error=str(exc), retry=False)
        self._log_start(asset_id, settings)
        output = files.encoded_video_path(self._media, asset["ownerId"], asset_id)
        work = partial(_encode_in_thread, source, temp_output(output), output, plan, video.rotation)
        try:
            await run_stoppable(work, limiter=self.limiter)
        except TranscodeError as exc:
            log.error("Error occurred during transcoding: %s", exc.reason)
            return JobResult(status="failed", error=exc.reason, retry=False)
        except OSError as exc:
            log.error("Error occurred during transcoding: %s", exc)
            return JobResult(status="failed", error=f"{type(exc).__name__}: {exc}")
        log.info("Successfully encoded %s", asset_id)
        return JobResult(status="success", apply=partial(_store, asset_id=asset_id, path=str(output)))

    def _not_required(self, asset_id: str, encoded: str | None) -> JobResult:
        if encoded is None:
            log.debug("Asset %s does not require transcoding based on current policy, skipping", asset_id)
            return JobResult(status="skipped")
        log.info("Transcoded video exists for asset %s, but is no longer required. Deleting...", asset_id)
        return JobResult(status="skipped", apply=partial(_forget, asset_id=asset_id))

    def _log_start(self, asset_id: str, settings: FfmpegSettings) -> None:
        if settings.accel == "disabled":
            log.info("Transcoding video %s without hardware acceleration", asset_id)
            return
        accel = settings.accel.upper()
        log.info(
            "Transcoding video %s with %s-accelerated encoding and%s decoding",
            asset_id, accel, "" if settings.accel_decode else " software",
        )
        # This build carries no hardware encoder configs: Immich's retry chain ends here.
        log.error("Error occurred during transcoding: no %s encoder is usable in this process", accel)
        log.error("Retrying with %s acceleration disabled", accel)


async def _store(conn: AsyncConnection[Any], *, asset_id: str, path: str) -> None:
    if await q.lock_video(conn, asset_id):
        await q.set_encoded_video(conn, asset_id, path)
    else:  # deleted while encoding: the new file goes too
        await enqueue_job(conn, JobName.FILE_DELETE, {"files": [path]})


async def _forget(conn: AsyncConnection[Any], *, asset_id: str) -> None:
    if not await q.lock_video(conn, asset_id):
        return
    path = await q.forget_encoded_video(conn, asset_id)
    if path is not None:
        await enqueue_job(conn, JobName.FILE_DELETE, {"files": [path]})


async def _queue_all(conn: AsyncConnection[Any], *, force: bool) -> None:
    await q.enqueue_missing_encodes(conn, force=force)
