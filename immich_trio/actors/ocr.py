"""The OCR actor: the text in previews into ``asset_ocr`` and ``ocr_search``."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.preview_inference import PreviewInference
from immich_trio.actors.thumbnailer.edited import unedited_size
from immich_trio.actors.thumbnailer.ocr_visibility import update_ocr_visibility
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.ocr.reader import ImageError, OcrResult
from immich_trio.ml.ocr.service import OcrService, OcrUnavailable, ocr_enabled
from immich_trio.sql import ocr as q
from immich_trio.sql.assets import asset_edits
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "ocr"
JOBS: tuple[JobName, ...] = (JobName.OCR, JobName.OCR_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 4


class OcrActor(PreviewInference[OcrResult]):
    """Owns the writing of ``asset_ocr`` and ``ocr_search`` rows and ``asset_job_status.ocrAt``.

    Inbox: ``RunJob`` for ``Ocr`` ``{id}`` and ``OcrQueueAll`` ``{force}``. As Immich's
    ``OcrService``: both are ``skipped`` while ``machineLearning.enabled`` or
    ``machineLearning.ocr.enabled`` is off; a hidden asset is ``skipped``; an asset without a
    preview ``failed``. The boxes, the search text and ``ocrAt`` are written in the job's
    finishing transaction, so a result is stored whole or not at all; on a cropped image the
    boxes the crop cut are hidden in the same transaction. Backpressure: the
    dispatcher sends at most the queue's concurrency, and reading runs under ``self.limiter``
    (``job.ocr.concurrency``), its inference in threads under the ML engine's own limiter.
    Errors: a missing or corrupt model, an undecodable preview, every ML URL down or a
    malformed remote answer fail the job with the reason; the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.OCR
    each_job = JobName.OCR
    queue_all_job = JobName.OCR_QUEUE_ALL
    label = "ocr"
    unavailable = (OcrUnavailable,)
    unreadable = (ImageError,)

    def __init__(self, pool: Pool, ocr: OcrService, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._ocr = ocr
        self._now = now

    def feature_on(self, config: dict[str, Any]) -> bool:
        return ocr_enabled(config)

    async def queue_all(self, conn: AsyncConnection[Any], *, force: bool) -> None:
        await q.enqueue_missing(conn, force=force)

    async def preview_of(self, conn: AsyncConnection[Any], asset_id: str) -> dict[str, Any] | None:
        return await q.asset_for_ocr(conn, asset_id)

    async def infer(self, config: dict[str, Any], preview: Path) -> OcrResult:
        return await self._ocr.read(config, preview)

    async def finish(self, asset_id: str, data: dict[str, Any], config: dict[str, Any], result: OcrResult) -> JobResult:
        log.debug("ocr: %d text(s) in asset %s", len(result.text), asset_id)
        return JobResult(status="success", apply=partial(self._store, asset_id=asset_id, result=result))

    async def _store(self, conn: AsyncConnection[Any], *, asset_id: str, result: OcrResult) -> None:
        if await q.asset_for_ocr(conn, asset_id) is None:  # deleted meanwhile
            return
        await q.replace_boxes(
            conn,
            asset_id,
            boxes=[result.box[8 * i : 8 * i + 8] for i in range(len(result.text))],
            box_scores=result.box_score,
            texts=result.text,
            text_scores=result.text_score,
            at=self._now(),
        )
        # Immich shows every new box even on a cropped image until the next edit; here the
        # crop hides what it cut at once, as the edit render would
        if edits := await asset_edits.edits(conn, asset_id):
            asset = await asset_edits.asset_for_edit(conn, asset_id)
            await update_ocr_visibility(conn, asset_id, edits=edits, size=unedited_size(asset or {}))
