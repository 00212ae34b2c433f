"""The face-detection actor: faces found on an asset's preview become ``asset_face`` rows with
their ``face_search`` embeddings, as Immich's ``PersonService.handleDetectFaces`` writes them."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID, uuid4

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.face_service import DetectedFace, DetectedFaces, FaceService, FacesUnavailable
from immich_trio.ml.face_service import facial_recognition_enabled as enabled
from immich_trio.ml.layout import ModelError
from immich_trio.sql import cleanup as cleanup_q
from immich_trio.sql import face_detection as q
from immich_trio.sql.jobs import Job, enqueue_job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "face-detection"
JOBS: tuple[JobName, ...] = (JobName.ASSET_DETECT_FACES, JobName.ASSET_DETECT_FACES_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 8
SAME_FACE_IOU = 0.5
ML = "machine-learning"

Conn = AsyncConnection[Any]


class FaceDetectionActor(QueueWorker):
    """Owns the machine-learning rows of ``asset_face`` and their ``face_search`` embeddings.

    Inbox: ``RunJob`` for ``AssetDetectFaces`` ``{id, force?}`` and ``AssetDetectFacesQueueAll``
    ``{force}``. Both are ``skipped`` while ``machineLearning.enabled`` or
    ``machineLearning.facialRecognition.enabled`` is off, as Immich's; a hidden asset is
    ``skipped``, one without a preview ``failed``. A detected box overlapping a face the asset
    already has (IoU > 0.5, boxes scaled between the two images' sizes) is that face; the others
    are new faces, each queued for ``FacialRecognition``; machine-learning faces found no more
    are removed. All of it, with ``facesRecognizedAt``, commits in the job's transaction.
    Backpressure: the dispatcher sends at most the queue's concurrency; inference runs under
    ``self.limiter`` (``job.faceDetection.concurrency``) and the ML engine's own limiter.
    Errors: a missing or corrupt model, an undecodable preview, every ML URL down or an answer
    that cannot be stored fail the job with the reason; the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.FACE_DETECTION

    def __init__(self, pool: Pool, faces: FaceService, *, now: WallClock = lambda: datetime.now(UTC), name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self.faces = faces
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
        if not enabled(config):
            return JobResult(status="skipped")
        if job.name == JobName.ASSET_DETECT_FACES_QUEUE_ALL:
            force = job.data.get("force")
            return JobResult(status="success", apply=partial(_queue_all, force=force if isinstance(force, bool) else None))
        if job.name != JobName.ASSET_DETECT_FACES:
            return self.unexpected(job)
        return await self._detect(job.data, config)

    async def _detect(self, data: Any, config: dict[str, Any]) -> JobResult:
        asset_id = data.get("id") if isinstance(data, dict) else None
        try:
            asset_uuid = UUID(str(asset_id))
        except ValueError:
            return JobResult(status="failed", error="job data has no asset id", retry=False)
        async with self._pool.connection() as conn:
            asset = await q.asset_for_detection(conn, asset_uuid)
        if asset is None or asset["previewPath"] is None:
            return JobResult(status="failed", error="asset or its preview not found", retry=False)
        if asset["visibility"] == "hidden":
            return JobResult(status="skipped")
        preview = Path(asset["previewPath"])
        try:
            async with self.limiter:
                found = await self.faces.detect(config, preview)
        except ModelError as exc:
            log.warning("face detection: asset %s: %s", asset_uuid, exc.reason)
            return JobResult(status="failed", error=exc.reason)
        except (FacesUnavailable, OSError) as exc:
            log.warning("face detection: asset %s: %s", asset_uuid, exc)
            return JobResult(status="failed", error=str(exc) or type(exc).__name__)
        log.debug("%d faces detected in %s", len(found.faces), preview)
        problem = await self._check(found)
        if problem is not None:
            return JobResult(status="failed", error=problem)
        return JobResult(status="success", apply=partial(_store, asset_id=asset_uuid, found=found, when=self._now()))

    async def _check(self, found: DetectedFaces) -> str | None:
        """Why the answer cannot be stored (an embedding that is not a list of finite numbers of
        ``face_search``'s size, an image without size), or None."""
        if not found.faces:
            return None
        if found.image_width <= 0 or found.image_height <= 0:
            return f"the detected image has no size ({found.image_width}x{found.image_height})"
        async with self._pool.connection() as conn:
            wanted = await q.dimensions(conn)
        for face in found.faces:
            try:
                values = json.loads(face.embedding)
                size = len(values)
                finite = all(isinstance(v, int | float) and math.isfinite(v) for v in values)
            except (ValueError, TypeError):
                return "a face embedding is not a list of numbers"
            if not finite:
                return "a face embedding holds values that are not finite numbers"
            if size != wanted:
                return f"a face embedding has {size} dimensions, face_search holds {wanted}"
        return None


def iou(face: dict[str, Any], box: tuple[float, float, float, float]) -> float:
    """Intersection over union of a stored face and a box on the same image."""
    fx1, fy1, fx2, fy2 = (face["boundingBoxX1"], face["boundingBoxY1"], face["boundingBoxX2"], face["boundingBoxY2"])
    width = max(0.0, min(fx2, box[2]) - max(fx1, box[0]))
    height = max(0.0, min(fy2, box[3]) - max(fy1, box[1]))
    intersection = width * height
    union = (fx2 - fx1) * (fy2 - fy1) + (box[2] - box[0]) * (box[3] - box[1]) - intersection
    return intersection / union if union > 0 else 0.0


def _matches(face: dict[str, Any], found: DetectedFace, image_width: int, image_height: int) -> bool:
    """Whether ``found`` is ``face``: the new box scaled to the image the face was found on."""
    width_scale = face["imageWidth"] / image_width
    height_scale = face["imageHeight"] / image_height
    box = (found.x1 * width_scale, found.y1 * height_scale, found.x2 * width_scale, found.y2 * height_scale)
    return iou(face, box) > SAME_FACE_IOU


async def _store(conn: Conn, *, asset_id: UUID, found: DetectedFaces, when: datetime) -> None:
    if await q.asset_for_detection(conn, asset_id) is None:  # deleted meanwhile
        return
    existing = await q.faces_of_asset(conn, asset_id)
    unseen_ml = {face["id"] for face in existing if face["sourceType"] == ML}
    added: list[tuple[UUID, tuple[int, int, int, int]]] = []
    embeddings: list[tuple[UUID, str]] = []
    for detected in found.faces:
        match = next(
            (f for f in existing if _matches(f, detected, found.image_width, found.image_height)), None
        )
        if match is None:
            face_id = uuid4()
            added.append((face_id, (detected.x1, detected.y1, detected.x2, detected.y2)))
            embeddings.append((face_id, detected.embedding))
        elif match["id"] in unseen_ml:
            unseen_ml.discard(match["id"])  # the same machine-learning face again: kept as it is
        else:
            embeddings.append((match["id"], detected.embedding))  # a face from elsewhere gets one
    removed = sorted(unseen_ml)
    if added or removed or embeddings:
        await q.refresh_faces(
            conn, asset_id, image_width=found.image_width, image_height=found.image_height,
            added=added, removed=removed, embeddings=embeddings,
        )
    if removed:
        log.info("Removed %d faces below detection threshold in asset %s", len(removed), asset_id)
    if added:
        log.info("Detected %d new faces in asset %s", len(added), asset_id)
        await enqueue_job(conn, JobName.FACIAL_RECOGNITION_QUEUE_ALL, {"force": False})
        for face_id, _ in added:
            await enqueue_job(conn, JobName.FACIAL_RECOGNITION, {"id": str(face_id)})
    elif embeddings:
        log.info("Added %d face embeddings for asset %s", len(embeddings), asset_id)
    await q.mark_recognized(conn, asset_id, when)


async def _queue_all(conn: Conn, *, force: bool | None) -> None:
    """Immich's ``handleQueueDetectFaces``: with ``force`` every machine-learning face goes
    first (and the people left without a face, their thumbnails queued for deletion)."""
    if force:
        deleted = await q.delete_machine_learning_faces(conn)
        files = await cleanup_q.delete_people_without_faces(conn)
        if files:
            await enqueue_job(conn, JobName.FILE_DELETE, {"files": files})
        log.info("Deleted %d machine-learning faces before detecting again", deleted)
    await q.enqueue_detection(conn, force=force)
    if force is None:
        await enqueue_job(conn, JobName.PERSON_CLEANUP, {})
