"""Expands the ``*QueueAll`` jobs of the asset queues into one job per asset
(``SidecarQueueAll`` into ``SidecarCheck``s: assets without a sidecar, all with ``force``)."""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.jobs.names import JobName
from immich_trio.reactor import Actor
from immich_trio.sql import jobs as q
from immich_trio.sql import sidecars as sidecars_q

HANDLED: tuple[JobName, ...] = (
    JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL,
    JobName.ASSET_EXTRACT_METADATA_QUEUE_ALL,
    JobName.SIDECAR_QUEUE_ALL,
)
"""Job names to register this actor for with the dispatcher."""


class QueueAllActor(Actor[RunJob]):
    """Answers ``RunJob`` for the QueueAll jobs of ``HANDLED`` with an ``apply`` that
    enqueues the per-asset jobs in one ``INSERT … SELECT``: for assets missing that step,
    or all of them with ``{force: true}``.

    Owns nothing but its inbox; the work happens in the dispatcher's completion
    transaction, so the expansion and the QueueAll job's deletion commit together. The
    dispatcher's queue slots bound it; an unknown job name is answered ``failed``.
    """

    concurrency: ClassVar[int] = 2

    async def handle(self, msg: RunJob) -> None:
        force = bool(msg.job.data.get("force"))
        match msg.job.name:
            case JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL:
                apply = partial(_thumbnails, force=force)
            case JobName.ASSET_EXTRACT_METADATA_QUEUE_ALL:
                apply = partial(_metadata, force=force)
            case JobName.SIDECAR_QUEUE_ALL:
                apply = partial(_sidecars, force=force)
            case other:
                msg.reply_to.send(
                    JobResult(status="failed", error=f"QueueAllActor cannot run {other}")
                )
                return
        msg.reply_to.send(JobResult(status="success", apply=apply))


async def _thumbnails(conn: AsyncConnection[Any], *, force: bool) -> None:
    await q.enqueue_missing_thumbnails(conn, force=force)


async def _metadata(conn: AsyncConnection[Any], *, force: bool) -> None:
    await q.enqueue_missing_metadata(conn, force=force)


async def _sidecars(conn: AsyncConnection[Any], *, force: bool) -> None:
    await sidecars_q.queue_sidecar_checks(conn, force=force)
