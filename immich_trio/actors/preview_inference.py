"""The common part of the queue workers that run a model on an asset's preview (smart search,
OCR): the feature switch, the queue-all job, the asset's preview, the inference under the queue's
limiter, and the mapping of what can go wrong to the job's outcome, as Immich's ML services do."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName
from immich_trio.ml.layout import ModelError
from immich_trio.sql.jobs import Job

log = logging.getLogger(__name__)

R = TypeVar("R")
Conn = AsyncConnection[Any]
Config = dict[str, Any]


class PreviewInference(QueueWorker, Generic[R]):
    """Runs ``each_job`` ``{id}`` and ``queue_all_job`` ``{force}`` of one queue.

    Both are ``skipped`` while ``feature_on`` says the system config turns the feature off; a
    hidden asset is ``skipped``; an asset or preview not found ``failed``. The model runs under
    ``self.limiter`` (the queue's concurrency). A missing or corrupt model (``ModelError``) or
    an unreachable engine (``unavailable``, ``OSError``) fails the job with the reason, to be
    retried; an input the model can never read (``unreadable``) fails it for good. What the
    model gave becomes the job's outcome in ``finish`` (usually an ``apply`` that stores it in the
    job's finishing transaction).
    """

    each_job: ClassVar[JobName]
    queue_all_job: ClassVar[JobName]
    label: ClassVar[str]
    unavailable: ClassVar[tuple[type[Exception], ...]] = ()
    unreadable: ClassVar[tuple[type[Exception], ...]] = ()

    def feature_on(self, config: Config) -> bool:
        raise NotImplementedError

    async def queue_all(self, conn: Conn, *, force: bool) -> None:
        raise NotImplementedError

    async def preview_of(self, conn: Conn, asset_id: str) -> dict[str, Any] | None:
        """The asset's row with ``previewPath`` and ``visibility``, or None when it is gone."""
        raise NotImplementedError

    async def infer(self, config: Config, preview: Path) -> R:
        raise NotImplementedError

    async def finish(self, asset_id: str, data: dict[str, Any], config: Config, result: R) -> JobResult:
        raise NotImplementedError

    async def run_job(self, job: Job) -> JobResult:
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
        if not self.feature_on(config):
            return JobResult(status="skipped")
        if job.name == self.queue_all_job:
            return JobResult(status="success", apply=partial(self.queue_all, force=bool(job.data.get("force"))))
        if job.name != self.each_job:
            return self.unexpected(job)
        return await self._run(job.data, config)

    async def _run(self, data: Any, config: Config) -> JobResult:
        asset_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id")
        async with self._pool.connection() as conn:
            asset = await self.preview_of(conn, asset_id)
        if asset is None or asset["previewPath"] is None:
            return JobResult(status="failed", error="asset or its preview not found")
        if asset["visibility"] == "hidden":
            return JobResult(status="skipped")
        retried: tuple[type[Exception], ...] = (*self.unavailable, OSError)
        try:
            async with self.limiter:
                result = await self.infer(config, Path(asset["previewPath"]))
        except ModelError as exc:
            log.warning("%s: asset %s: %s", self.label, asset_id, exc.reason)
            return JobResult(status="failed", error=exc.reason)
        except self.unreadable as exc:
            log.warning("%s: asset %s: %s", self.label, asset_id, exc)
            return JobResult(status="failed", error=str(exc), retry=False)
        except retried as exc:
            log.warning("%s: asset %s: %s", self.label, asset_id, exc)
            return JobResult(status="failed", error=str(exc) or type(exc).__name__)
        return await self.finish(asset_id, data, config, result)
