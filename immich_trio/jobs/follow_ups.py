"""What each job queues when it runs here: the edges of the job graph the API can start.

Kept beside the handlers' code by hand; ``tests/actors/test_job_handlers.py`` walks it from
every ``POST /api/jobs`` name and every queue ``start`` command and checks that each job it
reaches has a worker, so a new follow-up must be listed here to be checked.
"""

from __future__ import annotations

from types import MappingProxyType

from immich_trio.jobs.names import JobName

J = JobName

FOLLOW_UPS: MappingProxyType[JobName, tuple[JobName, ...]] = MappingProxyType(
    {
        J.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL: (J.ASSET_GENERATE_THUMBNAILS,),
        J.ASSET_EXTRACT_METADATA_QUEUE_ALL: (J.ASSET_EXTRACT_METADATA,),
        J.ASSET_GENERATE_THUMBNAILS: (J.SMART_SEARCH, J.ASSET_DETECT_FACES, J.OCR, J.ASSET_ENCODE_VIDEO),
        J.ASSET_DETECT_FACES_QUEUE_ALL: (J.ASSET_DETECT_FACES, J.PERSON_CLEANUP, J.FILE_DELETE),
        # and FacialRecognition per new face, whose worker is facial recognition's
        J.ASSET_DETECT_FACES: (J.FACIAL_RECOGNITION_QUEUE_ALL,),
        J.ASSET_ENCODE_VIDEO_QUEUE_ALL: (J.ASSET_ENCODE_VIDEO,),
        J.ASSET_ENCODE_VIDEO: (J.FILE_DELETE,),
        J.ASSET_EXTRACT_METADATA: (J.STORAGE_TEMPLATE_MIGRATION_SINGLE, J.WORKFLOW_ASSET_TRIGGER),
        J.STORAGE_TEMPLATE_MIGRATION_SINGLE: (J.ASSET_GENERATE_THUMBNAILS,),
        J.ASSET_EMPTY_TRASH: (J.ASSET_DELETE,),
        J.ASSET_DELETE_CHECK: (J.ASSET_DELETE,),
        J.ASSET_DELETE: (J.ASSET_DELETE, J.FILE_DELETE),
        J.LIBRARY_SCAN_QUEUE_ALL: (
            J.LIBRARY_DELETE_CHECK,
            J.LIBRARY_SYNC_FILES_QUEUE_ALL,
            J.LIBRARY_SCAN_ASSETS_QUEUE_ALL,
        ),
        J.LIBRARY_DELETE_CHECK: (J.LIBRARY_DELETE,),
        J.LIBRARY_DELETE: (J.ASSET_DELETE, J.LIBRARY_DELETE),
        J.LIBRARY_SYNC_FILES_QUEUE_ALL: (J.LIBRARY_SYNC_FILES,),
        J.LIBRARY_SYNC_FILES: (J.SIDECAR_CHECK,),
        J.LIBRARY_SCAN_ASSETS_QUEUE_ALL: (J.LIBRARY_SYNC_ASSETS,),
        J.LIBRARY_SYNC_ASSETS: (J.SIDECAR_CHECK,),
        J.SIDECAR_QUEUE_ALL: (J.SIDECAR_CHECK,),
        J.SIDECAR_CHECK: (J.ASSET_EXTRACT_METADATA,),
        J.LIBRARY_REMOVE_ASSET: (J.ASSET_DELETE,),
        J.PERSON_CLEANUP: (J.FILE_DELETE,),
        J.SMART_SEARCH: (J.ASSET_DETECT_DUPLICATES,),
        J.OCR_QUEUE_ALL: (J.OCR,),
        J.FILE_MIGRATION_QUEUE_ALL: (J.ASSET_FILE_MIGRATION, J.PERSON_FILE_MIGRATION),
        J.ASSET_DETECT_DUPLICATES_QUEUE_ALL: (J.ASSET_DETECT_DUPLICATES,),
        J.INTEGRITY_MISSING_FILES_QUEUE_ALL: (
            J.INTEGRITY_MISSING_FILES,
            J.INTEGRITY_MISSING_FILES_REFRESH,
        ),
        J.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL: (
            J.INTEGRITY_UNTRACKED_FILES,
            J.INTEGRITY_UNTRACKED_REFRESH,
        ),
        J.INTEGRITY_CHECKSUM_FILES: (J.INTEGRITY_CHECKSUM_FILES_REFRESH,),
        J.INTEGRITY_DELETE_REPORT_TYPE: (J.INTEGRITY_DELETE_REPORTS,),
    }
)
"""Job name → the job names its handler may queue (none when absent)."""
