"""The media side of the server: the dispatcher and the actors that run the job queues (one
per concern), the job names each is registered for, and the ML services they share."""

from __future__ import annotations

import attrs
import trio

from immich_trio import sysconfig
from immich_trio.actors.cleanup import JOBS as CLEANUP_JOBS
from immich_trio.actors.cleanup import CleanupActor
from immich_trio.actors.database_backup import JOBS as BACKUP_JOBS
from immich_trio.actors.database_backup import DatabaseBackupActor
from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.duplicates import JOBS as DUPLICATE_JOBS
from immich_trio.actors.duplicates import DuplicateDetectionActor
from immich_trio.actors.face_detection import JOBS as FACE_DETECTION_JOBS
from immich_trio.actors.face_detection import FaceDetectionActor
from immich_trio.actors.face_recognition import JOBS as FACE_RECOGNITION_JOBS
from immich_trio.actors.face_recognition import FacialRecognitionActor
from immich_trio.actors.file_migration import JOBS as FILE_MIGRATION_JOBS
from immich_trio.actors.file_migration import FileMigrationActor
from immich_trio.actors.integrity import JOBS as INTEGRITY_JOBS
from immich_trio.actors.integrity import IntegrityActor
from immich_trio.actors.janitor import JanitorActor
from immich_trio.actors.library_scanner import JOBS as LIBRARY_JOBS
from immich_trio.actors.library_scanner import LibraryScannerActor
from immich_trio.actors.memories import JOBS as MEMORY_JOBS
from immich_trio.actors.memories import MemoriesActor
from immich_trio.actors.metadata.actor import MetadataActor
from immich_trio.actors.metadata.sidecar_check import SIDECAR_CHECK_JOBS, SidecarCheckActor
from immich_trio.actors.notifications import NotificationsActor
from immich_trio.actors.ocr import JOBS as OCR_JOBS
from immich_trio.actors.ocr import OcrActor
from immich_trio.actors.person_thumbnail import JOBS as PERSON_THUMBNAIL_JOBS
from immich_trio.actors.person_thumbnail import PersonThumbnailActor
from immich_trio.actors.queue_all import HANDLED as QUEUE_ALL_JOBS
from immich_trio.actors.queue_all import QueueAllActor
from immich_trio.actors.smart_search import JOBS as SMART_SEARCH_JOBS
from immich_trio.actors.smart_search import SmartSearchActor
from immich_trio.actors.storage_template import JOBS as STORAGE_TEMPLATE_JOBS
from immich_trio.actors.storage_template import StorageTemplateActor
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.actors.transcoder.actor import JOBS as TRANSCODER_JOBS
from immich_trio.actors.transcoder.actor import TranscoderActor
from immich_trio.actors.user_deletion import JOBS as USER_DELETION_JOBS
from immich_trio.actors.user_deletion import UserDeletionActor
from immich_trio.actors.workflow_runner import JOBS as WORKFLOW_JOBS
from immich_trio.actors.workflow_runner import WorkflowRunnerActor
from immich_trio.config import Settings
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.face_service import FaceService
from immich_trio.ml.local import LocalClip
from immich_trio.ml.local_faces import LocalFaces
from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.service import OcrService
from immich_trio.ml.service import ClipService
from immich_trio.reactor import Supervisor
from immich_trio.runtime import WallClock
from immich_trio.sql.pool import Pool

DISPATCHER = "dispatcher"
QUEUE_ALL = "queue-all"
ML_TASK = "machine-learning"
FACE_MODELS_TASK = "face-models"
OCR_MODELS_TASK = "ocr-models"
"""Names in the status tree, beside ``uploader``, ``metadata``, ``thumbnailer``, ``janitor``."""


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
    file_migration: FileMigrationActor


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
        file_migration=FileMigrationActor(pool, settings.media_location),
    )
    media.add_actor(parts.dispatcher)
    workers = (
        parts.metadata, parts.thumbnailer, parts.queue_all, parts.janitor, parts.notifications, parts.memories,
        parts.integrity, parts.user_deletion, parts.database_backup, parts.person_thumbnails, parts.cleanup,
        parts.smart_search, parts.face_detection, parts.duplicates, parts.transcoder, parts.workflows, parts.storage_template,
        parts.library_scanner, parts.sidecar_check, parts.ocr, parts.face_recognition, parts.file_migration,
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
        (FILE_MIGRATION_JOBS, parts.file_migration),
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
