"""The duplicate-detection actor: groups an owner's assets whose CLIP embeddings nearly match."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.service import clip_enabled, ml_config
from immich_trio.sql import duplicates as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "duplicate-detection"
JOBS: tuple[JobName, ...] = (JobName.ASSET_DETECT_DUPLICATES, JobName.ASSET_DETECT_DUPLICATES_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 4
DEFAULT_MAX_DISTANCE = 0.01


def duplicates_enabled(config: Mapping[str, Any]) -> bool:
    """Immich's ``isDuplicateDetectionEnabled``: smart search on and duplicate detection on."""
    section = ml_config(config).get("duplicateDetection")
    return clip_enabled(config) and isinstance(section, Mapping) and bool(section.get("enabled"))


def _max_distance(config: Mapping[str, Any]) -> float:
    section = ml_config(config).get("duplicateDetection")
    value = section.get("maxDistance") if isinstance(section, Mapping) else None
    return float(value) if isinstance(value, int | float) else DEFAULT_MAX_DISTANCE


class DuplicateDetectionActor(QueueWorker):
    """Owns ``asset.duplicateId`` as Immich's ``DuplicateService`` job handlers set it.

    Inbox: ``RunJob`` for ``AssetDetectDuplicates`` ``{id}`` and
    ``AssetDetectDuplicatesQueueAll`` ``{force}``. Both are ``skipped`` while machine
    learning, CLIP or duplicate detection is off. An unknown asset, or one without an
    embedding, ``failed``; a stacked, hidden or locked one is ``skipped``. The neighbour search
    and the regrouping run in the transaction that finishes the job, so two detections never
    interleave their merges half-way. Errors are the job's; the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.DUPLICATE_DETECTION

    def __init__(self, pool: Pool, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
        if not duplicates_enabled(config):
            return JobResult(status="skipped")
        if job.name == JobName.ASSET_DETECT_DUPLICATES_QUEUE_ALL:
            return JobResult(status="success", apply=partial(_queue_all, force=bool(job.data.get("force"))))
        if job.name != JobName.ASSET_DETECT_DUPLICATES:
            return self.unexpected(job)
        asset_id = job.data.get("id") if isinstance(job.data, dict) else None
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        async with self._pool.connection() as conn:
            asset = await q.for_detection(conn, asset_id)
        if asset is None:
            return JobResult(status="failed", error=f"Asset {asset_id} not found")
        if asset["stackId"] is not None or asset["visibility"] in ("hidden", "locked"):
            return JobResult(status="skipped")
        if asset["embedding"] is None:
            return JobResult(status="failed", error=f"Asset {asset_id} is missing embedding")
        return JobResult(
            status="success", apply=partial(self._detect, asset=asset, max_distance=_max_distance(config))
        )

    async def _detect(self, conn: AsyncConnection[Any], *, asset: dict[str, Any], max_distance: float) -> None:
        found = await q.neighbours(
            conn,
            asset_id=asset["id"],
            owner_id=asset["ownerId"],
            asset_type=asset["type"],
            embedding=asset["embedding"],
            max_distance=max_distance,
        )
        touched: list[UUID] = [asset["id"]]
        if found:
            touched = await _regroup(conn, asset, found)
        elif asset["duplicateId"] is not None:
            await q.clear(conn, [asset["id"]])
        await q.mark_detected(conn, touched, self._now())


async def _regroup(conn: AsyncConnection[Any], asset: Mapping[str, Any], found: list[dict[str, Any]]) -> list[UUID]:
    """Immich's grouping: the asset's own group, else its first neighbour's, else a new one;
    the neighbours' other groups are merged into it. The assets moved, the asset last."""
    groups = list(dict.fromkeys(row["duplicateId"] for row in found if row["duplicateId"] is not None))
    target: UUID = asset["duplicateId"] or (groups.pop(0) if groups else uuid.uuid4())
    moved = [row["assetId"] for row in found if row["duplicateId"] != target]
    moved.append(asset["id"])
    await q.merge(conn, target=target, asset_ids=moved, sources=groups)
    return moved


async def _queue_all(conn: AsyncConnection[Any], *, force: bool) -> None:
    await q.enqueue_all(conn, force=force)
