"""``SidecarCheck``: finds the XMP sidecar beside an original and records it, as Immich's
``handleSidecarCheck`` does.

The candidates, in order: the sidecar recorded now (if its file is still readable it is
kept), ``<original>.xmp`` (``IMG_1.jpg.xmp``), then ``<original without extension>.xmp``
(``IMG_1.xmp``). The first readable one becomes the asset's ``asset_file`` row of type
``sidecar``; with none readable, a recorded sidecar is forgotten. Unchanged, the job answers
``skipped``. Either way metadata extraction follows with the job's own data (Immich's
``onDone`` queues ``AssetExtractMetadata`` after ``success`` and ``skipped``), so an external
library's import (``{source: "upload"}``) goes on to thumbnails as an upload does. A job for
an asset that is gone does nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import partial
from pathlib import PurePosixPath
from typing import Any, ClassVar

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import sidecars as sidecars_q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "sidecar-check"
"""The actor's name in the status tree."""
INBOX = 16
HANDLER_SLOTS = 16
"""Messages handled at once; the dispatcher sends at most the ``sidecar`` queue's
concurrency, and the file checks run under the limiter sized from it."""
SIDECAR_CHECK_JOBS: tuple[JobName, ...] = (JobName.SIDECAR_CHECK,)
"""Job names to register this actor for with the dispatcher."""


def sidecar_candidates(original_path: str, recorded: str | None) -> list[str]:
    """Where a sidecar may be, in Immich's order (duplicates dropped, order kept)."""
    original = PurePosixPath(original_path)
    candidates = [
        *([recorded] if recorded else []),
        f"{original_path}.xmp",
        str(original.with_suffix(".xmp")),
    ]
    return list(dict.fromkeys(candidates))


def _first_readable(candidates: list[str]) -> str | None:
    return next((path for path in candidates if os.access(path, os.R_OK)), None)


@attrs.frozen(kw_only=True)
class SidecarChange:
    """What a check found: the recorded path and the one found (either may be None)."""

    asset_id: str
    recorded: str | None
    found: str | None

    @property
    def changed(self) -> bool:
        return self.found != self.recorded


async def apply_sidecar_check(conn: AsyncConnection[Any], change: SidecarChange, data: Mapping[str, Any]) -> None:
    """In the dispatcher's transaction: the new sidecar row (or none), then the metadata
    extraction that reads it."""
    if change.found is not None and change.changed:
        await sidecars_q.set_sidecar(conn, change.asset_id, change.found)
    elif change.found is None and change.recorded is not None:
        await sidecars_q.forget_sidecar(conn, change.asset_id, change.recorded)
    await jobs_q.enqueue_job(conn, JobName.ASSET_EXTRACT_METADATA, dict(data))


class SidecarCheckActor(QueueWorker):
    """Owns nothing but its inbox and a limiter.

    Inbox: ``RunJob`` for ``SidecarCheck``. It reads the asset's paths, checks the
    candidates for readability in a worker thread (a slow network mount never blocks the
    loop) and answers with an ``apply`` that records the change and queues metadata
    extraction in the dispatcher's transaction.
    Backpressure: the dispatcher claims no more than the ``sidecar`` queue's concurrency;
    the file checks run under a limiter of that size.
    Errors: a job without an asset id fails; anything else a filesystem raises here is
    turned into "not readable" by ``os.access``, so the actor carries on.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.SIDECAR

    def __init__(self, pool: Pool, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)

    async def run_job(self, job: Job) -> JobResult:
        if job.name != JobName.SIDECAR_CHECK:
            return self.unexpected(job)
        asset_id = job.data.get("id")
        if not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no asset id", retry=False)
        async with self._pool.connection() as conn:
            asset = await sidecars_q.for_sidecar_check(conn, asset_id)
        if asset is None:
            return JobResult(status="skipped")  # deleted since: nothing to check or extract
        recorded: str | None = asset["sidecarPath"]
        candidates = sidecar_candidates(str(asset["originalPath"]), recorded)
        async with self.limiter:
            found = await trio.to_thread.run_sync(_first_readable, candidates)
        change = SidecarChange(asset_id=asset_id, recorded=recorded, found=found)
        log.debug(
            "sidecar check of asset %s: old=%s new=%s (%s)",
            asset_id, recorded, found, "update" if change.changed else "unchanged",
        )
        return JobResult(
            status="success" if change.changed else "skipped",
            apply=partial(apply_sidecar_check, change=change, data=dict(job.data)),
        )
