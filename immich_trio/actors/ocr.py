"""The OCR actor: the text in previews into ``asset_ocr`` and ``ocr_search``."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.thumbnailer.edited import unedited_size
from immich_trio.actors.thumbnailer.ocr_visibility import update_ocr_visibility
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.ml.layout import ModelError
from immich_trio.ml.ocr.reader import ImageError, OcrResult
from immich_trio.ml.ocr.service import OcrService, OcrUnavailable, ocr_enabled
from immich_trio.sql import ocr as q
from immich_trio.sql.assets import asset_edits
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "ocr"
JOBS: tuple[JobName, ...] = (JobName.OCR, JobName.OCR_QUEUE_ALL)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 4


class OcrActor(QueueWorker):
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

    def __init__(self, pool: Pool, ocr: OcrService, *, now: WallClock, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._ocr = ocr
        self._now = now

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
        if not ocr_enabled(config):
            return JobResult(status="skipped")
        if job.name == JobName.OCR_QUEUE_ALL:
            return JobResult(status="success", apply=partial(_queue_all, force=bool(job.data.get("force"))))
        if job.name != JobName.OCR:
            return self.unexpected(job)
        return await self._read(job.data, config)

    async def _read(self, data: Any, config: dict[str, Any]) -> JobResult:
        asset_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        async with self._pool.connection() as conn:
            asset = await q.asset_for_ocr(conn, asset_id)
        if asset is None or asset["previewPath"] is None:
            return JobResult(status="failed", error="asset or its preview not found")
        if asset["visibility"] == "hidden":
            return JobResult(status="skipped")
        try:
            async with self.limiter:
                result = await self._ocr.read(config, Path(asset["previewPath"]))
        except ModelError as exc:
            log.warning("ocr: asset %s: %s", asset_id, exc.reason)
            return JobResult(status="failed", error=exc.reason)
        except ImageError as exc:
            log.warning("ocr: asset %s: %s", asset_id, exc)
            return JobResult(status="failed", error=str(exc), retry=False)
        except (OcrUnavailable, OSError) as exc:
            log.warning("ocr: asset %s: %s", asset_id, exc)
            return JobResult(status="failed", error=str(exc) or type(exc).__name__)
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


async def _queue_all(conn: AsyncConnection[Any], *, force: bool) -> None:
    await q.enqueue_missing(conn, force=force)
