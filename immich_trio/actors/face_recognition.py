"""The facial-recognition actor: clusters detected faces into people, incrementally, as
Immich's ``PersonService`` does (``FacialRecognition``, ``FacialRecognitionQueueAll``)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.service import ml_config
from immich_trio.sql import cleanup as cleanup_q
from immich_trio.sql import face_recognition as q
from immich_trio.sql.jobs import Job, enqueue_job, queue_counts
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "facial-recognition"
JOBS: tuple[JobName, ...] = (JobName.FACIAL_RECOGNITION, JobName.FACIAL_RECOGNITION_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 2
DEFAULT_MIN_FACES = 3
DEFAULT_MAX_DISTANCE = 0.5
QUEUE_WAIT_POLL = 1.0
"""Seconds between looks at the queues ``FacialRecognitionQueueAll`` waits for."""
WAITED_QUEUES = [QueueName.THUMBNAIL_GENERATION.value, QueueName.FACE_DETECTION.value]

Conn = AsyncConnection[Any]


def recognition_enabled(config: Mapping[str, Any]) -> bool:
    """Immich's ``isFacialRecognitionEnabled``: machine learning on and facial recognition on."""
    ml = ml_config(config)
    section = ml.get("facialRecognition")
    return bool(ml.get("enabled")) and isinstance(section, Mapping) and bool(section.get("enabled"))


@attrs.frozen(kw_only=True)
class Clustering:
    """``machineLearning.facialRecognition``'s clustering settings."""

    min_faces: int = DEFAULT_MIN_FACES
    max_distance: float = DEFAULT_MAX_DISTANCE

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Clustering:
        section = ml_config(config).get("facialRecognition")
        section = section if isinstance(section, Mapping) else {}
        min_faces, max_distance = section.get("minFaces"), section.get("maxDistance")
        return cls(
            min_faces=min_faces if isinstance(min_faces, int) and min_faces >= 1 else DEFAULT_MIN_FACES,
            max_distance=float(max_distance) if isinstance(max_distance, int | float) else DEFAULT_MAX_DISTANCE,
        )


def iso_instant(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()`` (UTC, milliseconds, ``Z``), as Immich writes ``lastRun``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class FacialRecognitionActor(QueueWorker):
    """Owns ``asset_face.personId`` and the people that clustering creates.

    Inbox: ``RunJob`` for ``FacialRecognition`` ``{id: faceId, deferred?}`` and
    ``FacialRecognitionQueueAll`` ``{force, nightly?}``; both ``skipped`` while machine
    learning or facial recognition is off. A face is clustered against its owner's nearest
    ``minFaces`` faces within ``maxDistance``: a face whose match has a person joins it; a
    "core" face (``minFaces`` matches, on a timeline asset) with no person near creates one
    (and queues its thumbnail); a non-core face is queued again once, ``deferred``, behind the
    rest, and then only joins a person. The search and the writes run in the transaction that
    finishes the job, under the owner's advisory lock, so concurrent jobs (other processes)
    never make two people of one cluster. Backpressure: the queue's concurrency is fixed at
    1 per process (Immich's). Errors: an unknown face, or one without an embedding, fails the
    job for good; the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.FACIAL_RECOGNITION

    def __init__(self, pool: Pool, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._now = now
        self._decisions: Counter[str] = Counter()

    def extra_status(self) -> dict[str, object]:
        return {**super().extra_status(), **self._decisions}

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
        if not recognition_enabled(config):
            return JobResult(status="skipped")
        data = job.data if isinstance(job.data, Mapping) else {}
        match job.name:
            case JobName.FACIAL_RECOGNITION_QUEUE_ALL:
                return await self._queue_all(force=bool(data.get("force")), nightly=bool(data.get("nightly")))
            case JobName.FACIAL_RECOGNITION:
                return await self._recognize(data, Clustering.of(config))
            case _:
                return self.unexpected(job)

    # -- FacialRecognitionQueueAll -------------------------------------------------------

    async def _queue_all(self, *, force: bool, nightly: bool) -> JobResult:
        await self._wait_for_detection()
        async with self._pool.connection() as conn:
            if nightly:
                last = await q.last_run(conn)
                latest = await q.latest_face_date(conn)
                last_at = _parse_instant(last) if last else None
                if last_at is not None and latest is not None and last_at > latest:
                    log.debug("facial recognition: no face added since the last run, nightly skipped")
                    return JobResult(status="skipped")
            waiting = (await queue_counts(conn, self._now()))[self.queue.value]["waiting"]
        if not force and waiting:
            log.debug("facial recognition: %d jobs already queued, not queueing more", waiting)
            return JobResult(status="skipped")
        return JobResult(status="success", apply=partial(self._queue_faces, force=force))

    async def _wait_for_detection(self) -> None:
        """Immich's ``waitForQueueCompletion``: no thumbnail or face detection job running."""
        while True:
            async with self._pool.connection() as conn:
                if not await q.active_jobs(conn, WAITED_QUEUES):
                    return
            await trio.sleep(QUEUE_WAIT_POLL)

    async def _queue_faces(self, conn: Conn, *, force: bool) -> None:
        if force:
            await q.unassign_machine_learning_faces(conn)
            files = await cleanup_q.delete_people_without_faces(conn)
            if files:
                await enqueue_job(conn, JobName.FILE_DELETE, {"files": files})
        last_run = iso_instant(self._now())
        queued = await q.queue_faces(conn, force=force)
        await q.set_last_run(conn, last_run)
        log.info("facial recognition: %d faces queued%s", queued, " (force)" if force else "")

    # -- FacialRecognition ---------------------------------------------------------------

    async def _recognize(self, data: Mapping[str, Any], settings: Clustering) -> JobResult:
        face_id = data.get("id")
        if not isinstance(face_id, str):
            return JobResult(status="failed", error="job data has no face id", retry=False)
        try:
            face_uuid = UUID(face_id)
        except ValueError:
            return JobResult(status="failed", error=f"Face {face_id} not found", retry=False)
        async with self._pool.connection() as conn:
            face = await q.face_for_job(conn, face_uuid)
        if face is None or face["assetId"] is None:
            return JobResult(status="failed", error=f"Face {face_id} not found", retry=False)
        if face["sourceType"] != q.MACHINE_LEARNING:
            return JobResult(status="skipped")
        if not face["hasEmbedding"]:
            return JobResult(status="failed", error=f"Face {face_id} does not have an embedding", retry=False)
        if face["personId"] is not None:
            return JobResult(status="skipped")
        apply = partial(
            self._cluster, face_id=face_uuid, owner=face["ownerId"], settings=settings,
            deferred=bool(data.get("deferred")),
        )  # fmt: skip
        return JobResult(status="success", apply=apply)

    async def _cluster(
        self, conn: Conn, *, face_id: UUID, owner: UUID, settings: Clustering, deferred: bool
    ) -> None:
        """Immich's ``handleRecognizeFaces`` decision, under the owner's lock."""
        await q.lock_owner(conn, owner)
        face = await q.face_for_job(conn, face_id)  # another process may have assigned it meanwhile
        if face is None or face["personId"] is not None or not face["hasEmbedding"]:
            return
        search = partial(
            q.search_faces, conn, owner_id=owner, face_id=face_id,
            max_distance=settings.max_distance, min_birth=face["fileCreatedAt"],
        )  # fmt: skip
        matches = await search(limit=settings.min_faces)
        if settings.min_faces > 1 and len(matches) <= 1:  # only the face itself
            self._decisions["unmatched"] += 1
            return
        core = len(matches) >= settings.min_faces and face["visibility"] == "timeline"
        if not core and not deferred:
            await enqueue_job(conn, JobName.FACIAL_RECOGNITION, {"id": str(face_id), "deferred": True})
            self._decisions["deferred"] += 1
            return
        person_id: UUID | None = next((m["personId"] for m in matches if m["personId"] is not None), None)
        if person_id is None:
            nearest = await search(limit=1, has_person=True)
            person_id = nearest[0]["personId"] if nearest else None
        if core and person_id is None:
            person_id = await q.create_person(conn, owner, face_id)
            await enqueue_job(conn, JobName.PERSON_GENERATE_THUMBNAIL, {"id": str(person_id)})
            self._decisions["people_created"] += 1
        if person_id is None:
            self._decisions["unmatched"] += 1
            return
        await q.assign_face(conn, face_id, person_id)
        self._decisions["assigned"] += 1
