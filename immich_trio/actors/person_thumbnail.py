"""The person thumbnail worker: runs ``PersonGenerateThumbnail`` of the ``thumbnailGeneration``
queue. It cuts the feature face out of the asset's preview as Immich's media service does (the
box scaled to the preview, grown 10%, made square without leaving the image) and writes a
250x250 JPEG to ``thumbs/<owner>/<xx>/<yy>/<personId>.jpeg``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import attrs
import trio
from PIL import Image, ImageOps
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import events
from immich_trio.sql import faces as faces_q
from immich_trio.sql import people as people_q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage.files import make_dirs, person_thumbnail_path

log = logging.getLogger(__name__)

SERVICE_NAME = "person-thumbnails"
HANDLER_SLOTS = 2
INBOX = 4
FACE_THUMBNAIL_SIZE = 250
DEFAULT_QUALITY = 80
JOBS = (JobName.PERSON_GENERATE_THUMBNAIL,)

Conn = AsyncConnection[Any]


@attrs.frozen(kw_only=True)
class Crop:
    left: int
    top: int
    width: int
    height: int


def face_crop(
    old_size: tuple[int, int], new_size: tuple[int, int], box: tuple[int, int, int, int]
) -> Crop:
    """The square around a face box (given on an image of ``old_size``) on an image of ``new_size``."""
    x1, y1, x2, y2 = box
    width_scale = new_size[0] / old_size[0]
    height_scale = new_size[1] / old_size[1]
    half_width = width_scale * (x2 - x1) / 2
    half_height = height_scale * (y2 - y1) / 2
    middle_x = _js_round(width_scale * x1 + half_width)
    middle_y = _js_round(height_scale * y1 + half_height)
    target = int(max(half_width, half_height) * 1.1)  # zoom out 10%
    half = min(
        middle_x - max(0, middle_x - target),
        middle_y - max(0, middle_y - target),
        min(new_size[0] - 1, middle_x + target) - middle_x,
        min(new_size[1] - 1, middle_y + target) - middle_y,
    )
    return Crop(left=middle_x - half, top=middle_y - half, width=half * 2, height=half * 2)


def _js_round(value: float) -> int:
    """JavaScript's ``Math.round`` (halves go up)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def render_face(preview: Path, face: dict[str, Any], target: Path, quality: int) -> None:
    """Cut, resize (never enlarging) and write the thumbnail atomically."""
    with Image.open(preview) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    crop = face_crop(
        (face["imageWidth"] or image.width, face["imageHeight"] or image.height),
        image.size,
        (face["boundingBoxX1"], face["boundingBoxY1"], face["boundingBoxX2"], face["boundingBoxY2"]),
    )
    if crop.width <= 0 or crop.height <= 0:
        raise ValueError("the face box is empty")
    part = image.crop((crop.left, crop.top, crop.left + crop.width, crop.top + crop.height))
    size = min(FACE_THUMBNAIL_SIZE, part.width)
    if part.width != size:
        part = part.resize((size, size), Image.Resampling.LANCZOS)
    make_dirs(target.parent)
    temp = target.with_name(target.name + ".tmp")
    with open(temp, "wb") as out:
        part.save(out, "JPEG", quality=quality)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)


def faces_wanted(config: Mapping[str, Any]) -> bool:
    """Immich's guard: people exist only with facial recognition (machine learning on and its
    facial recognition on) or with face import from metadata."""
    ml = config.get("machineLearning", {})
    recognition = bool(ml.get("enabled")) and bool(ml.get("facialRecognition", {}).get("enabled"))
    return recognition or bool(config.get("metadata", {}).get("faces", {}).get("import"))


class PersonThumbnailActor(QueueWorker):
    """Owns person thumbnails.

    Inbox: ``RunJob`` for ``PersonGenerateThumbnail`` (``{"id": personId}``). Reads the person's
    feature face and the asset's preview, renders in a thread under ``self.limiter``, then, in
    the dispatcher's transaction, records ``thumbnailPath`` and sends ``on_person_thumbnail``
    to the owner. A person without a feature face, or a face without a preview, fails the job;
    with facial recognition and face import both off the job is skipped, as in Immich.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.THUMBNAIL_GENERATION

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media

    async def run_job(self, job: Job) -> JobResult:
        if job.name != JobName.PERSON_GENERATE_THUMBNAIL:
            return self.unexpected(job)
        person_id = UUID(str(job.data.get("id")))
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
            if not faces_wanted(config):
                return JobResult(status="skipped")
            face = await faces_q.feature_face(conn, person_id)
        if face is None:
            return JobResult(status="failed", error=f"person {person_id} has no feature face")
        if not face["preview"]:
            return JobResult(status="failed", error=f"the face of person {person_id} has no preview")
        quality = config.get("image", {}).get("thumbnail", {}).get("quality", DEFAULT_QUALITY)
        target = person_thumbnail_path(self._media, face["ownerId"], person_id)
        async with self.limiter:
            await trio.to_thread.run_sync(render_face, Path(face["preview"]), face, target, int(quality))
        owner = face["ownerId"]

        async def apply(conn: Conn) -> None:
            await people_q.update(conn, person_id, {"thumbnailPath": str(target)})
            await events.publish_to_user(conn, owner, "on_person_thumbnail", str(person_id))

        return JobResult(status="success", apply=apply)
