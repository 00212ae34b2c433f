"""The server's supervision tree: database, migrations, the parts that ``IMMICH_WORKERS_*``
select (the HTTP front and its socket relay; the dispatcher and media actors), signals."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from immich_trio import sysconfig
from immich_trio.actors import uploader
from immich_trio.actors.cleanup import JOBS as CLEANUP_JOBS
from immich_trio.actors.cleanup import CleanupActor
from immich_trio.actors.config_watch import TASK_NAME as CONFIG_WATCH_TASK
from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.cron_schedule import TASK_NAME as CRON_SCHEDULE_TASK
from immich_trio.actors.cron_schedule import CronSchedule
from immich_trio.actors.database_backup import JOBS as BACKUP_JOBS
from immich_trio.actors.database_backup import DatabaseBackupActor
from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.duplicates import JOBS as DUPLICATE_JOBS
from immich_trio.actors.duplicates import DuplicateDetectionActor
from immich_trio.actors.face_detection import JOBS as FACE_DETECTION_JOBS
from immich_trio.actors.face_detection import FaceDetectionActor
from immich_trio.actors.face_recognition import JOBS as FACE_RECOGNITION_JOBS
from immich_trio.actors.face_recognition import FacialRecognitionActor
from immich_trio.actors.geodata.loader import TASK_NAME as GEODATA_TASK
from immich_trio.actors.geodata.loader import GeodataLoader
from immich_trio.actors.integrity import JOBS as INTEGRITY_JOBS
from immich_trio.actors.integrity import IntegrityActor
from immich_trio.actors.janitor import JanitorActor
from immich_trio.actors.library_scanner import JOBS as LIBRARY_JOBS
from immich_trio.actors.library_scanner import LibraryScannerActor
from immich_trio.actors.library_scanner.watch import TASK_NAME as LIBRARY_WATCH_TASK
from immich_trio.actors.library_scanner.watch import LibraryWatch
from immich_trio.actors.maintenance_restore import DatabaseRestorer
from immich_trio.actors.maintenance_watch import TASK_NAME as MAINTENANCE_WATCH_TASK
from immich_trio.actors.maintenance_watch import MaintenanceMode, MaintenanceWatch
from immich_trio.actors.memories import JOBS as MEMORY_JOBS
from immich_trio.actors.memories import MemoriesActor
from immich_trio.actors.metadata.actor import MetadataActor
from immich_trio.actors.metadata.sidecar_check import SIDECAR_CHECK_JOBS, SidecarCheckActor
from immich_trio.actors.notifications import NotificationsActor
from immich_trio.actors.notifier.hub import Hub
from immich_trio.actors.ocr import JOBS as OCR_JOBS
from immich_trio.actors.ocr import OcrActor
from immich_trio.actors.person_thumbnail import JOBS as PERSON_THUMBNAIL_JOBS
from immich_trio.actors.person_thumbnail import PersonThumbnailActor
from immich_trio.actors.queue_all import HANDLED as QUEUE_ALL_JOBS
from immich_trio.actors.queue_all import QueueAllActor
from immich_trio.actors.scheduler import TASK_NAME as SCHEDULER_TASK
from immich_trio.actors.scheduler import NightlyScheduler
from immich_trio.actors.smart_search import JOBS as SMART_SEARCH_JOBS
from immich_trio.actors.smart_search import SmartSearchActor
from immich_trio.actors.storage_template import JOBS as STORAGE_TEMPLATE_JOBS
from immich_trio.actors.storage_template import StorageTemplateActor
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.actors.transcoder.actor import JOBS as TRANSCODER_JOBS
from immich_trio.actors.transcoder.actor import TranscoderActor
from immich_trio.actors.user_deletion import JOBS as USER_DELETION_JOBS
from immich_trio.actors.user_deletion import UserDeletionActor
from immich_trio.actors.version_check import RELEASE_URL, VersionCheck
from immich_trio.actors.version_check import TASK_NAME as VERSION_CHECK_TASK
from immich_trio.actors.video_stream.streamer import HlsStreamer
from immich_trio.actors.workflow_runner import JOBS as WORKFLOW_JOBS
from immich_trio.actors.workflow_runner import WorkflowRunnerActor
from immich_trio.config import Settings
from immich_trio.http.socketio.relay import TASK_NAME as RELAY_TASK
from immich_trio.http.socketio.relay import EventRelay
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.face_service import FaceService
from immich_trio.ml.local import LocalClip
from immich_trio.ml.local_faces import LocalFaces
from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.service import OcrService
from immich_trio.ml.service import ClipService
from immich_trio.reactor import Backoff, Restart, RestartLimit, Supervisor
from immich_trio.runtime import Runtime, WallClock, utc_now
from immich_trio.sql.credential_cache import TASK_NAME as CREDENTIAL_WATCH_TASK
from immich_trio.sql.credential_cache import CredentialCache
from immich_trio.sql.embedded import run_embedded_postgres, socket_dir_for, url_for
from immich_trio.sql.pool import Pool
from immich_trio.startup import apply_migrations

log = logging.getLogger("immich_trio")

DISPATCHER = "dispatcher"
QUEUE_ALL = "queue-all"
ML_TASK = "machine-learning"
FACE_MODELS_TASK = "face-models"
OCR_MODELS_TASK = "ocr-models"
"""Names in the status tree, beside ``uploader``, ``metadata``, ``thumbnailer``, ``janitor``."""

SHUTDOWN_GRACE = 10.0
# The database may take a while to come back; keep trying rather than give up.
DATABASE_LIMIT = RestartLimit(max_restarts=1000, window=60.0)
DATABASE_BACKOFF = Backoff(initial=0.2, factor=2.0, cap=5.0)
_PY_LEVELS = {
    "verbose": logging.DEBUG,
    "debug": logging.DEBUG,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=_PY_LEVELS[settings.log_level],
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)


def database_url(settings: Settings) -> str:
    if settings.db_url is not None:
        return settings.db_url
    return url_for(socket_dir_for(settings.embedded_db_dir.absolute()), "immich")


def make_media_folders(settings: Settings) -> None:
    for folder in ("upload", "thumbs", "encoded-video", "profile", "library", "backups"):
        (settings.media_location / folder).mkdir(parents=True, exist_ok=True)


@attrs.frozen(kw_only=True)
class Microservices:
    """What a ``microservices`` process runs: the dispatcher and the actors it feeds."""

    dispatcher: Dispatcher
    metadata: MetadataActor
    thumbnailer: ThumbnailerActor
    queue_all: QueueAllActor
    janitor: JanitorActor
    notifications: NotificationsActor
    memories: MemoriesActor
    person_thumbnails: PersonThumbnailActor
    integrity: IntegrityActor
    user_deletion: UserDeletionActor
    database_backup: DatabaseBackupActor
    cleanup: CleanupActor
    smart_search: SmartSearchActor
    face_detection: FaceDetectionActor
    duplicates: DuplicateDetectionActor
    face_recognition: FacialRecognitionActor
    transcoder: TranscoderActor
    workflows: WorkflowRunnerActor
    storage_template: StorageTemplateActor
    library_scanner: LibraryScannerActor
    sidecar_check: SidecarCheckActor
    ocr: OcrActor


def add_microservices(
    media: Supervisor, pool: Pool, settings: Settings, now: WallClock, clip: ClipService
) -> Microservices:
    """The dispatcher, then the actors it feeds: stopping in reverse order, the actors
    finish their jobs while the dispatcher can still record the outcomes."""
    ocr = make_ocr(settings, clip)
    media.add_task(OCR_MODELS_TASK, ocr.run)  # idle OCR models unloaded
    parts = Microservices(
        dispatcher=Dispatcher(pool, name=DISPATCHER),
        metadata=MetadataActor(pool, settings.media_location, now=now),
        thumbnailer=ThumbnailerActor(pool, settings.media_location),
        queue_all=QueueAllActor(name=QUEUE_ALL),
        janitor=JanitorActor(pool, now=now),
        notifications=NotificationsActor(pool),
        memories=MemoriesActor(pool, now=now),
        person_thumbnails=PersonThumbnailActor(pool, settings.media_location),
        integrity=IntegrityActor(pool, settings.media_location),
        user_deletion=UserDeletionActor(pool, settings.media_location, now=now),
        database_backup=DatabaseBackupActor(pool, settings.media_location, now=now),
        cleanup=CleanupActor(pool, now=now, media=settings.media_location),
        smart_search=SmartSearchActor(pool, clip),
        face_detection=FaceDetectionActor(pool, make_faces(settings, clip), now=now),
        duplicates=DuplicateDetectionActor(pool, now=now),
        face_recognition=FacialRecognitionActor(pool, now=now),
        transcoder=TranscoderActor(pool, settings.media_location),
        workflows=WorkflowRunnerActor(pool),
        storage_template=StorageTemplateActor(pool, settings.media_location),
        library_scanner=LibraryScannerActor(pool, settings.media_location, now=now),
        sidecar_check=SidecarCheckActor(pool),
        ocr=OcrActor(pool, ocr, now=now),
    )
    media.add_actor(parts.dispatcher)
    workers = (
        parts.metadata, parts.thumbnailer, parts.queue_all, parts.janitor, parts.notifications, parts.memories,
        parts.integrity, parts.user_deletion, parts.database_backup, parts.person_thumbnails, parts.cleanup,
        parts.smart_search, parts.face_detection, parts.duplicates, parts.transcoder, parts.workflows, parts.storage_template,
        parts.library_scanner, parts.sidecar_check, parts.ocr, parts.face_recognition,
    )
    for actor in workers:
        media.add_actor(actor)
    media.add_task(FACE_MODELS_TASK, parts.face_detection.faces.run)
    parts.dispatcher.register(JobName.ASSET_EXTRACT_METADATA, parts.metadata.address)
    parts.dispatcher.register(JobName.SIDECAR_WRITE, parts.metadata.address)
    parts.dispatcher.register(JobName.ASSET_GENERATE_THUMBNAILS, parts.thumbnailer.address)
    parts.dispatcher.register(JobName.ASSET_EDIT_THUMBNAIL_GENERATION, parts.thumbnailer.address)
    for job in QUEUE_ALL_JOBS:
        parts.dispatcher.register(job, parts.queue_all.address)
    parts.dispatcher.register(QueueName.BACKGROUND_TASK, parts.janitor.address)
    parts.dispatcher.register(QueueName.NOTIFICATIONS, parts.notifications.address)
    by_job_name = (
        (PERSON_THUMBNAIL_JOBS, parts.person_thumbnails),
        (MEMORY_JOBS, parts.memories),
        (INTEGRITY_JOBS, parts.integrity),
        (USER_DELETION_JOBS, parts.user_deletion),
        (BACKUP_JOBS, parts.database_backup),
        (CLEANUP_JOBS, parts.cleanup),
        (SMART_SEARCH_JOBS, parts.smart_search),
        (FACE_DETECTION_JOBS, parts.face_detection),
        (DUPLICATE_JOBS, parts.duplicates),
        (FACE_RECOGNITION_JOBS, parts.face_recognition),
        (TRANSCODER_JOBS, parts.transcoder),
        (WORKFLOW_JOBS, parts.workflows),
        (STORAGE_TEMPLATE_JOBS, parts.storage_template),
        (LIBRARY_JOBS, parts.library_scanner),
        (SIDECAR_CHECK_JOBS, parts.sidecar_check),
        (OCR_JOBS, parts.ocr),
    )
    for jobs, worker in by_job_name:
        for job in jobs:
            parts.dispatcher.register(job, worker.address)
    return parts


def make_clip(settings: Settings) -> ClipService:
    """This process's CLIP: models from ``settings.model_cache``, or Immich's ML service."""
    return ClipService(LocalClip(settings.model_cache, ttl=float(settings.machine_learning_model_ttl)))


def make_faces(settings: Settings, clip: ClipService) -> FaceService:
    """This process's face detection: models from ``settings.model_cache``, or the ML service
    CLIP uses (one health map for both)."""
    local = LocalFaces(settings.model_cache, ttl=float(settings.machine_learning_model_ttl))
    return FaceService(local, clip.remote)


def make_ocr(settings: Settings, clip: ClipService) -> OcrService:
    """This process's OCR: models from ``settings.model_cache``, or the ML services CLIP uses."""
    local = LocalOcr(settings.model_cache, ttl=float(settings.machine_learning_model_ttl))
    return OcrService(local, remote=clip.remote)


async def run_clip(clip: ClipService, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Idle-model unloading and the ML availability checks, following the saved config."""
    unsubscribe = sysconfig.subscribe(clip.apply_config)
    try:
        await clip.run(task_status=task_status)
    finally:
        unsubscribe()


def build_tree(
    settings: Settings, pool: Pool, *, now: WallClock = utc_now, timers: bool = True
) -> tuple[Supervisor, Runtime]:
    """The whole server as a supervision tree, and the runtime its HTTP front is given
    (also used by tests, with their own settings; they pass ``timers=False`` so that no
    nightly or cron job appears in the job table when a run crosses the start time).

    ``settings.workers`` decides the parts, as Immich's ``IMMICH_WORKERS_INCLUDE`` /
    ``IMMICH_WORKERS_EXCLUDE`` do. Every process: the database pool, migrations (under an
    advisory lock, so processes may start together) and the config watch. ``api``: upload
    recovery and the uploader (uploads stream into this process), the event relay to this
    process's sockets, and HTTP last (recovery settles interrupted uploads before new ones
    arrive). ``microservices``: the dispatcher and the media actors; with no ``api`` there
    is no HTTP listener, as in Immich.
    """
    from immich_trio.http.app import create_app

    sysconfig.set_process_defaults(sysconfig.defaults_for(settings))
    root = Supervisor("immich-trio", wall_clock=now)
    database = Supervisor("database", limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    if settings.uses_embedded_db:
        database.add_task(
            "postgres",
            partial(run_embedded_postgres, settings.embedded_db_dir.absolute()),
            limit=DATABASE_LIMIT,
            backoff=DATABASE_BACKOFF,
        )
    database.add_task("pool", pool.run, limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    root.add_supervisor(database, limit=DATABASE_LIMIT)
    root.add_task(
        "migrations",
        partial(
            apply_migrations,
            pool,
            settings.media_location.absolute(),
            ignore_mount_check_errors=settings.ignore_mount_check_errors,
        ),
        restart=Restart.TRANSIENT,
        limit=DATABASE_LIMIT,
        backoff=DATABASE_BACKOFF,
    )

    media = Supervisor("media")
    media.add_task(CONFIG_WATCH_TASK, ConfigWatch(pool, sysconfig.defaults_for(settings)).run)
    if settings.reverse_geocoding_import:
        # Reverse-geocoding data, imported once in the background (start does not wait for it).
        loader = GeodataLoader(pool, settings.reverse_geocoding_root)
        media.add_task(GEODATA_TASK, loader.run, restart=Restart.TRANSIENT)
    clip = make_clip(settings)
    media.add_task(ML_TASK, partial(run_clip, clip))
    upload_address = uploader.supervise(media, pool, settings.media_location) if settings.runs_api else None
    stream_address = media.add_actor(HlsStreamer(pool, settings.media_location)) if settings.runs_api else None
    parts = add_microservices(media, pool, settings, now, clip) if settings.runs_microservices else None
    dispatcher = parts.dispatcher if parts is not None else None
    if parts is not None:
        media.add_task(LIBRARY_WATCH_TASK, LibraryWatch(pool).run)
    hub = Hub()
    maintenance = MaintenanceMode()
    credentials: CredentialCache[Any] = CredentialCache()
    restorer = DatabaseRestorer(pool, settings.media_location, now=now) if settings.runs_api else None
    if restorer is not None:
        media.add_task(MAINTENANCE_WATCH_TASK, MaintenanceWatch(pool, maintenance).run)
        media.add_actor(restorer)
        media.add_task(RELAY_TASK, EventRelay(pool, hub).run)
        media.add_task(CREDENTIAL_WATCH_TASK, partial(credentials.run, pool.url))
    if settings.runs_api and timers:
        # Immich's API worker holds the nightly cron; ours records each night in the database
        media.add_task(SCHEDULER_TASK, NightlyScheduler(pool, now=now, base=sysconfig.defaults_for(settings)).run)
        media.add_task(CRON_SCHEDULE_TASK, CronSchedule(pool, now=now, base=sysconfig.defaults_for(settings)).run)
        check = VersionCheck(
            pool, now=now, url=settings.version_check_url or RELEASE_URL, base=sysconfig.defaults_for(settings)
        )
        media.add_task(VERSION_CHECK_TASK, check.run)
    root.add_supervisor(media)

    status = partial(_status, root, pool, dispatcher)
    runtime = Runtime(
        settings=settings,
        pool=pool,
        now=now,
        hub=hub,
        maintenance=maintenance,
        credentials=credentials,
        restorer=restorer.address if restorer is not None else None,
        uploader=upload_address,
        streamer=stream_address,
        dispatcher=dispatcher,
        clip=clip,
        status=status,
    )
    if settings.runs_api:
        root.add_task("http", partial(serve_http, settings, create_app(runtime)))
    if settings.telemetry:
        from immich_trio.http import metrics

        root.add_task("metrics", partial(metrics.serve, settings, status))
    return root, runtime


async def serve_http(
    settings: Settings, app: QuartTrio, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Hypercorn on ``IMMICH_HOST:IMMICH_PORT`` until cancelled; started once listening."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5

    async def serve_until_cancelled(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await hypercorn_serve(app, config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_until_cancelled)
        log.info("listening on %s", ", ".join(binds))
        task_status.started()


def _status(root: Supervisor, pool: Pool, dispatcher: Dispatcher | None) -> dict[str, Any]:
    """The tree, the pool, and job counts per queue (rendered by ``/metrics`` too)."""
    return {
        "supervisors": [root.snapshot().to_dict()],
        "database": attrs.asdict(pool.statistics()),
        "queues": dispatcher.queue_depths() if dispatcher is not None else {},
    }


@asynccontextmanager
async def _signals(on_signal: Callable[[], None]) -> Any:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in receiver:
                    on_signal()
                    return

            nursery.start_soon(watch)
            yield
            nursery.cancel_scope.cancel()


async def serve(settings: Settings, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the server until SIGINT/SIGTERM, then shut down within ``SHUTDOWN_GRACE`` seconds."""
    make_media_folders(settings)
    root, runtime = build_tree(settings, Pool(database_url(settings)))
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        log.info("running workers: %s", ", ".join(sorted(settings.workers)))
        task_status.started(runtime)
        stop = trio.Event()
        async with _signals(stop.set):
            await stop.wait()
        log.info("shutting down")
        await root.shutdown(deadline=trio.current_time() + SHUTDOWN_GRACE)
        nursery.cancel_scope.cancel()
