"""The smart-search actor: CLIP image embeddings of previews into ``smart_search``."""

from __future__ import annotations

import json
import logging
import math
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.duplicates import duplicates_enabled
from immich_trio.actors.preview_inference import PreviewInference
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.service import ClipService, ClipUnavailable, clip_enabled
from immich_trio.sql import smart_search as q
from immich_trio.sql.jobs import enqueue_job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "smart-search"
JOBS: tuple[JobName, ...] = (JobName.SMART_SEARCH, JobName.SMART_SEARCH_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 8


class SmartSearchActor(PreviewInference[str]):
    """Owns the writing of ``smart_search`` rows.

    Inbox: ``RunJob`` for ``SmartSearch`` ``{id}`` and ``SmartSearchQueueAll`` ``{force}``.
    As Immich's ``SmartInfoService``: both are ``skipped`` while ``machineLearning.enabled`` or
    ``machineLearning.clip.enabled`` is off; a hidden asset is ``skipped``; an asset without a
    preview ``failed``. Backpressure: the dispatcher sends at most the queue's concurrency and
    encoding runs under ``self.limiter`` (``job.smartSearch.concurrency``), its inference in
    threads under the ML engine's own limiter. Errors: a missing or corrupt model, an
    undecodable preview or every ML URL down fail the job with the reason; the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.SMART_SEARCH
    each_job = JobName.SMART_SEARCH
    queue_all_job = JobName.SMART_SEARCH_QUEUE_ALL
    label = "smart search"
    unavailable = (ClipUnavailable,)

    def __init__(self, pool: Pool, clip: ClipService, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._clip = clip

    def feature_on(self, config: dict[str, Any]) -> bool:
        return clip_enabled(config)

    async def queue_all(self, conn: AsyncConnection[Any], *, force: bool) -> None:
        await q.enqueue_missing(conn, force=force)

    async def preview_of(self, conn: AsyncConnection[Any], asset_id: str) -> dict[str, Any] | None:
        return await q.asset_for_smart_search(conn, asset_id)

    async def infer(self, config: dict[str, Any], preview: Path) -> str:
        return await self._clip.encode_image(config, preview)

    async def finish(self, asset_id: str, data: dict[str, Any], config: dict[str, Any], embedding: str) -> JobResult:
        problem = await self._check_embedding(embedding)
        if problem is not None:
            return JobResult(status="failed", error=problem)
        detect = data.get("source") == "upload" and duplicates_enabled(config)
        store = partial(_store, asset_id=asset_id, embedding=embedding, detect_duplicates=detect)
        return JobResult(status="success", apply=store)

    async def _check_embedding(self, embedding: str) -> str | None:
        """Why ``embedding`` cannot be stored (not a list of finite numbers of the column's
        size, e.g. another model's), or None."""
        try:
            values = json.loads(embedding)
            size = len(values)
            finite = all(isinstance(v, int | float) and math.isfinite(v) for v in values)
        except (ValueError, TypeError):
            return "the embedding is not a list of numbers"
        if not finite:
            return "the embedding holds values that are not finite numbers"
        async with self._pool.connection() as conn:
            wanted = await q.dimensions(conn)
        if size != wanted:
            return f"the embedding has {size} dimensions, smart_search holds {wanted}"
        return None


async def _store(
    conn: AsyncConnection[Any], *, asset_id: str, embedding: str, detect_duplicates: bool = False
) -> None:
    """Store the embedding; for an upload, queue duplicate detection next, as Immich's
    pipeline does (not queued while it is off: the job would only be skipped)."""
    if await q.asset_for_smart_search(conn, asset_id) is not None:  # not deleted meanwhile
        await q.upsert_embedding(conn, asset_id, embedding)
        if detect_duplicates:
            await enqueue_job(conn, JobName.ASSET_DETECT_DUPLICATES, {"id": asset_id})
