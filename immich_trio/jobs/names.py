"""Immich's queue and job names, which queue runs each job, and what the admin commands queue.

Values are the wire strings of the v3.1.0 spec (``QueueName``, ``JobName``, ``ManualJobName``);
the tables follow pipeline.md §2.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Any

import attrs


class QueueName(enum.StrEnum):
    """In the enum order of the spec, which is also the key order of ``GET /api/jobs``."""

    THUMBNAIL_GENERATION = "thumbnailGeneration"
    METADATA_EXTRACTION = "metadataExtraction"
    VIDEO_CONVERSION = "videoConversion"
    FACE_DETECTION = "faceDetection"
    FACIAL_RECOGNITION = "facialRecognition"
    SMART_SEARCH = "smartSearch"
    DUPLICATE_DETECTION = "duplicateDetection"
    BACKGROUND_TASK = "backgroundTask"
    STORAGE_TEMPLATE_MIGRATION = "storageTemplateMigration"
    MIGRATION = "migration"
    SEARCH = "search"
    SIDECAR = "sidecar"
    LIBRARY = "library"
    NOTIFICATIONS = "notifications"
    BACKUP_DATABASE = "backupDatabase"
    OCR = "ocr"
    WORKFLOW = "workflow"
    INTEGRITY_CHECK = "integrityCheck"
    EDITOR = "editor"


class JobName(enum.StrEnum):
    ASSET_DELETE = "AssetDelete"
    ASSET_DELETE_CHECK = "AssetDeleteCheck"
    ASSET_DETECT_FACES_QUEUE_ALL = "AssetDetectFacesQueueAll"
    ASSET_DETECT_FACES = "AssetDetectFaces"
    ASSET_DETECT_DUPLICATES_QUEUE_ALL = "AssetDetectDuplicatesQueueAll"
    ASSET_DETECT_DUPLICATES = "AssetDetectDuplicates"
    ASSET_EDIT_THUMBNAIL_GENERATION = "AssetEditThumbnailGeneration"
    ASSET_ENCODE_VIDEO_QUEUE_ALL = "AssetEncodeVideoQueueAll"
    ASSET_ENCODE_VIDEO = "AssetEncodeVideo"
    ASSET_EMPTY_TRASH = "AssetEmptyTrash"
    ASSET_EXTRACT_METADATA_QUEUE_ALL = "AssetExtractMetadataQueueAll"
    ASSET_EXTRACT_METADATA = "AssetExtractMetadata"
    ASSET_FILE_MIGRATION = "AssetFileMigration"
    ASSET_GENERATE_THUMBNAILS_QUEUE_ALL = "AssetGenerateThumbnailsQueueAll"
    ASSET_GENERATE_THUMBNAILS = "AssetGenerateThumbnails"
    AUDIT_TABLE_CLEANUP = "AuditTableCleanup"
    DATABASE_BACKUP = "DatabaseBackup"
    FACIAL_RECOGNITION_QUEUE_ALL = "FacialRecognitionQueueAll"
    FACIAL_RECOGNITION = "FacialRecognition"
    FILE_DELETE = "FileDelete"
    FILE_MIGRATION_QUEUE_ALL = "FileMigrationQueueAll"
    LIBRARY_DELETE_CHECK = "LibraryDeleteCheck"
    LIBRARY_DELETE = "LibraryDelete"
    LIBRARY_REMOVE_ASSET = "LibraryRemoveAsset"
    LIBRARY_SCAN_ASSETS_QUEUE_ALL = "LibraryScanAssetsQueueAll"
    LIBRARY_SYNC_ASSETS = "LibrarySyncAssets"
    LIBRARY_SYNC_FILES_QUEUE_ALL = "LibrarySyncFilesQueueAll"
    LIBRARY_SYNC_FILES = "LibrarySyncFiles"
    LIBRARY_SCAN_QUEUE_ALL = "LibraryScanQueueAll"
    HLS_SESSION_CLEANUP = "HlsSessionCleanup"
    MEMORY_CLEANUP = "MemoryCleanup"
    MEMORY_GENERATE = "MemoryGenerate"
    NOTIFICATIONS_CLEANUP = "NotificationsCleanup"
    NOTIFY_USER_SIGNUP = "NotifyUserSignup"
    NOTIFY_ALBUM_INVITE = "NotifyAlbumInvite"
    NOTIFY_ALBUM_UPDATE = "NotifyAlbumUpdate"
    USER_DELETE = "UserDelete"
    USER_DELETE_CHECK = "UserDeleteCheck"
    USER_SYNC_USAGE = "UserSyncUsage"
    PERSON_CLEANUP = "PersonCleanup"
    PERSON_FILE_MIGRATION = "PersonFileMigration"
    PERSON_GENERATE_THUMBNAIL = "PersonGenerateThumbnail"
    SESSION_CLEANUP = "SessionCleanup"
    SEND_MAIL = "SendMail"
    SIDECAR_QUEUE_ALL = "SidecarQueueAll"
    SIDECAR_CHECK = "SidecarCheck"
    SIDECAR_WRITE = "SidecarWrite"
    SMART_SEARCH_QUEUE_ALL = "SmartSearchQueueAll"
    SMART_SEARCH = "SmartSearch"
    STORAGE_TEMPLATE_MIGRATION = "StorageTemplateMigration"
    STORAGE_TEMPLATE_MIGRATION_SINGLE = "StorageTemplateMigrationSingle"
    TAG_CLEANUP = "TagCleanup"
    VERSION_CHECK = "VersionCheck"
    OCR_QUEUE_ALL = "OcrQueueAll"
    OCR = "Ocr"
    WORKFLOW_ASSET_TRIGGER = "WorkflowAssetTrigger"
    INTEGRITY_UNTRACKED_FILES_QUEUE_ALL = "IntegrityUntrackedFilesQueueAll"
    INTEGRITY_UNTRACKED_FILES = "IntegrityUntrackedFiles"
    INTEGRITY_UNTRACKED_REFRESH = "IntegrityUntrackedRefresh"
    INTEGRITY_MISSING_FILES_QUEUE_ALL = "IntegrityMissingFilesQueueAll"
    INTEGRITY_MISSING_FILES = "IntegrityMissingFiles"
    INTEGRITY_MISSING_FILES_REFRESH = "IntegrityMissingFilesRefresh"
    INTEGRITY_CHECKSUM_FILES = "IntegrityChecksumFiles"
    INTEGRITY_CHECKSUM_FILES_REFRESH = "IntegrityChecksumFilesRefresh"
    INTEGRITY_DELETE_REPORT_TYPE = "IntegrityDeleteReportType"
    INTEGRITY_DELETE_REPORTS = "IntegrityDeleteReports"


class ManualJobName(enum.StrEnum):
    PERSON_CLEANUP = "person-cleanup"
    TAG_CLEANUP = "tag-cleanup"
    USER_CLEANUP = "user-cleanup"
    MEMORY_CLEANUP = "memory-cleanup"
    MEMORY_CREATE = "memory-create"
    BACKUP_DATABASE = "backup-database"
    INTEGRITY_MISSING_FILES = "integrity-missing-files"
    INTEGRITY_UNTRACKED_FILES = "integrity-untracked-files"
    INTEGRITY_CHECKSUM_MISMATCH = "integrity-checksum-mismatch"
    INTEGRITY_MISSING_FILES_REFRESH = "integrity-missing-files-refresh"
    INTEGRITY_UNTRACKED_FILES_REFRESH = "integrity-untracked-files-refresh"
    INTEGRITY_CHECKSUM_MISMATCH_REFRESH = "integrity-checksum-mismatch-refresh"
    INTEGRITY_MISSING_FILES_DELETE_ALL = "integrity-missing-files-delete-all"
    INTEGRITY_UNTRACKED_FILES_DELETE_ALL = "integrity-untracked-files-delete-all"
    INTEGRITY_CHECKSUM_MISMATCH_DELETE_ALL = "integrity-checksum-mismatch-delete-all"


Q = QueueName
J = JobName

_QUEUE_JOBS: dict[QueueName, tuple[JobName, ...]] = {
    Q.THUMBNAIL_GENERATION: (
        J.ASSET_GENERATE_THUMBNAILS,
        J.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL,
        J.PERSON_GENERATE_THUMBNAIL,
    ),
    Q.METADATA_EXTRACTION: (J.ASSET_EXTRACT_METADATA, J.ASSET_EXTRACT_METADATA_QUEUE_ALL),
    Q.VIDEO_CONVERSION: (J.ASSET_ENCODE_VIDEO, J.ASSET_ENCODE_VIDEO_QUEUE_ALL),
    Q.FACE_DETECTION: (J.ASSET_DETECT_FACES, J.ASSET_DETECT_FACES_QUEUE_ALL),
    Q.FACIAL_RECOGNITION: (J.FACIAL_RECOGNITION, J.FACIAL_RECOGNITION_QUEUE_ALL),
    Q.SMART_SEARCH: (J.SMART_SEARCH, J.SMART_SEARCH_QUEUE_ALL),
    Q.DUPLICATE_DETECTION: (J.ASSET_DETECT_DUPLICATES, J.ASSET_DETECT_DUPLICATES_QUEUE_ALL),
    Q.BACKGROUND_TASK: (
        J.ASSET_DELETE,
        J.ASSET_DELETE_CHECK,
        J.ASSET_EMPTY_TRASH,
        J.AUDIT_TABLE_CLEANUP,
        J.FILE_DELETE,
        J.HLS_SESSION_CLEANUP,
        J.MEMORY_CLEANUP,
        J.MEMORY_GENERATE,
        J.NOTIFICATIONS_CLEANUP,
        J.PERSON_CLEANUP,
        J.SESSION_CLEANUP,
        J.TAG_CLEANUP,
        J.USER_DELETE,
        J.USER_DELETE_CHECK,
        J.USER_SYNC_USAGE,
        J.VERSION_CHECK,
    ),
    Q.STORAGE_TEMPLATE_MIGRATION: (
        J.STORAGE_TEMPLATE_MIGRATION,
        J.STORAGE_TEMPLATE_MIGRATION_SINGLE,
    ),
    Q.MIGRATION: (J.ASSET_FILE_MIGRATION, J.FILE_MIGRATION_QUEUE_ALL, J.PERSON_FILE_MIGRATION),
    Q.SEARCH: (),
    Q.SIDECAR: (J.SIDECAR_CHECK, J.SIDECAR_QUEUE_ALL, J.SIDECAR_WRITE),
    Q.LIBRARY: (
        J.LIBRARY_SCAN_QUEUE_ALL,
        J.LIBRARY_SCAN_ASSETS_QUEUE_ALL,
        J.LIBRARY_SYNC_ASSETS,
        J.LIBRARY_SYNC_FILES,
        J.LIBRARY_SYNC_FILES_QUEUE_ALL,
        J.LIBRARY_DELETE,
        J.LIBRARY_DELETE_CHECK,
        J.LIBRARY_REMOVE_ASSET,
    ),
    Q.NOTIFICATIONS: (
        J.SEND_MAIL,
        J.NOTIFY_USER_SIGNUP,
        J.NOTIFY_ALBUM_INVITE,
        J.NOTIFY_ALBUM_UPDATE,
    ),
    Q.BACKUP_DATABASE: (J.DATABASE_BACKUP,),
    Q.OCR: (J.OCR, J.OCR_QUEUE_ALL),
    Q.WORKFLOW: (J.WORKFLOW_ASSET_TRIGGER,),
    Q.INTEGRITY_CHECK: (
        J.INTEGRITY_MISSING_FILES,
        J.INTEGRITY_MISSING_FILES_QUEUE_ALL,
        J.INTEGRITY_MISSING_FILES_REFRESH,
        J.INTEGRITY_UNTRACKED_FILES,
        J.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL,
        J.INTEGRITY_UNTRACKED_REFRESH,
        J.INTEGRITY_CHECKSUM_FILES,
        J.INTEGRITY_CHECKSUM_FILES_REFRESH,
        J.INTEGRITY_DELETE_REPORT_TYPE,
        J.INTEGRITY_DELETE_REPORTS,
    ),
    Q.EDITOR: (J.ASSET_EDIT_THUMBNAIL_GENERATION,),
}

QUEUE_JOBS: MappingProxyType[QueueName, tuple[JobName, ...]] = MappingProxyType(_QUEUE_JOBS)
"""The job names each queue runs."""

QUEUE_OF: MappingProxyType[JobName, QueueName] = MappingProxyType(
    {job: queue for queue, jobs in _QUEUE_JOBS.items() for job in jobs}
)
"""The queue of each job name."""

ASSET_JOBS: frozenset[JobName] = frozenset(
    {
        J.ASSET_DELETE,
        J.ASSET_DETECT_DUPLICATES,
        J.ASSET_DETECT_FACES,
        J.ASSET_EDIT_THUMBNAIL_GENERATION,
        J.ASSET_ENCODE_VIDEO,
        J.ASSET_EXTRACT_METADATA,
        J.ASSET_FILE_MIGRATION,
        J.ASSET_GENERATE_THUMBNAILS,
        J.OCR,
        J.SIDECAR_CHECK,
        J.SIDECAR_WRITE,
        J.SMART_SEARCH,
        J.STORAGE_TEMPLATE_MIGRATION_SINGLE,
    }
)
"""Jobs whose ``data.id`` is an asset id (copied to the job row's ``assetId``)."""


@attrs.frozen(kw_only=True)
class StartJob:
    """What ``start`` on a queue enqueues: a job name, and whether it takes ``{force}``."""

    name: JobName
    takes_force: bool = True

    def data(self, force: bool | None) -> dict[str, Any]:
        return {"force": bool(force)} if self.takes_force else {}


START_JOBS: MappingProxyType[QueueName, StartJob] = MappingProxyType(
    {
        Q.THUMBNAIL_GENERATION: StartJob(name=J.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL),
        Q.METADATA_EXTRACTION: StartJob(name=J.ASSET_EXTRACT_METADATA_QUEUE_ALL),
        Q.VIDEO_CONVERSION: StartJob(name=J.ASSET_ENCODE_VIDEO_QUEUE_ALL),
        Q.FACE_DETECTION: StartJob(name=J.ASSET_DETECT_FACES_QUEUE_ALL),
        Q.FACIAL_RECOGNITION: StartJob(name=J.FACIAL_RECOGNITION_QUEUE_ALL),
        Q.SMART_SEARCH: StartJob(name=J.SMART_SEARCH_QUEUE_ALL),
        Q.DUPLICATE_DETECTION: StartJob(name=J.ASSET_DETECT_DUPLICATES_QUEUE_ALL),
        Q.STORAGE_TEMPLATE_MIGRATION: StartJob(
            name=J.STORAGE_TEMPLATE_MIGRATION, takes_force=False
        ),
        Q.MIGRATION: StartJob(name=J.FILE_MIGRATION_QUEUE_ALL, takes_force=False),
        Q.SIDECAR: StartJob(name=J.SIDECAR_QUEUE_ALL),
        Q.LIBRARY: StartJob(name=J.LIBRARY_SCAN_QUEUE_ALL),
        Q.BACKUP_DATABASE: StartJob(name=J.DATABASE_BACKUP),
        Q.OCR: StartJob(name=J.OCR_QUEUE_ALL),
    }
)
"""Queues that have a ``start`` command; the others answer ``Invalid job name: <queue>``."""


@attrs.frozen(kw_only=True)
class ManualJob:
    name: JobName
    data: MappingProxyType[str, Any] = attrs.field(factory=lambda: MappingProxyType({}))


def _manual(name: JobName, **data: Any) -> ManualJob:
    return ManualJob(name=name, data=MappingProxyType(data))


M = ManualJobName
MANUAL_JOBS: MappingProxyType[ManualJobName, ManualJob] = MappingProxyType(
    {
        M.PERSON_CLEANUP: _manual(J.PERSON_CLEANUP),
        M.TAG_CLEANUP: _manual(J.TAG_CLEANUP),
        M.USER_CLEANUP: _manual(J.USER_DELETE_CHECK),
        M.MEMORY_CLEANUP: _manual(J.MEMORY_CLEANUP),
        M.MEMORY_CREATE: _manual(J.MEMORY_GENERATE),
        M.BACKUP_DATABASE: _manual(J.DATABASE_BACKUP),
        M.INTEGRITY_MISSING_FILES: _manual(J.INTEGRITY_MISSING_FILES_QUEUE_ALL),
        M.INTEGRITY_UNTRACKED_FILES: _manual(J.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL),
        M.INTEGRITY_CHECKSUM_MISMATCH: _manual(J.INTEGRITY_CHECKSUM_FILES),
        M.INTEGRITY_MISSING_FILES_REFRESH: _manual(
            J.INTEGRITY_MISSING_FILES_QUEUE_ALL, refreshOnly=True
        ),
        M.INTEGRITY_UNTRACKED_FILES_REFRESH: _manual(
            J.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, refreshOnly=True
        ),
        M.INTEGRITY_CHECKSUM_MISMATCH_REFRESH: _manual(
            J.INTEGRITY_CHECKSUM_FILES, refreshOnly=True
        ),
        M.INTEGRITY_MISSING_FILES_DELETE_ALL: _manual(
            J.INTEGRITY_DELETE_REPORT_TYPE, type="missing_file"
        ),
        M.INTEGRITY_UNTRACKED_FILES_DELETE_ALL: _manual(
            J.INTEGRITY_DELETE_REPORT_TYPE, type="untracked_file"
        ),
        M.INTEGRITY_CHECKSUM_MISMATCH_DELETE_ALL: _manual(
            J.INTEGRITY_DELETE_REPORT_TYPE, type="checksum_mismatch"
        ),
    }
)
"""``POST /api/jobs`` names and the job each one enqueues."""

FIXED_CONCURRENCY: MappingProxyType[QueueName, int] = MappingProxyType(
    {
        Q.FACIAL_RECOGNITION: 1,
        Q.STORAGE_TEMPLATE_MIGRATION: 1,
        Q.DUPLICATE_DETECTION: 1,
        Q.BACKUP_DATABASE: 1,
    }
)
"""Queues whose concurrency the system config cannot change."""

UNPAUSABLE: frozenset[QueueName] = frozenset({Q.BACKGROUND_TASK})


def concurrency_from_config(config: dict[str, Any]) -> dict[QueueName, int]:
    """Per-queue concurrency: ``job.<queue>.concurrency`` of the system config, or fixed."""
    jobs = config.get("job") or {}
    out: dict[QueueName, int] = {}
    for queue in QueueName:
        fixed = FIXED_CONCURRENCY.get(queue)
        if fixed is not None:
            out[queue] = fixed
            continue
        value = (jobs.get(queue.value) or {}).get("concurrency")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            out[queue] = value
    return out
