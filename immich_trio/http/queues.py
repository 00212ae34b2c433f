"""The Queues tag: per-queue statistics, pause/resume, listing and emptying jobs."""

from __future__ import annotations

from typing import Any

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, value_or
from immich_trio.http.dto.generated import (
    QueueDeleteDto,
    QueueJobResponseDto,
    QueueResponseDto,
    QueueUpdateDto,
)
from immich_trio.http.dto.jobs import queue_dto, queue_job_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.jobs.names import UNPAUSABLE, QueueName
from immich_trio.sql import jobs as q

CANNOT_PAUSE = "The BackgroundTask queue cannot be paused"


async def _queue(ctx: Ctx, conn: Any, queue: str) -> QueueResponseDto:
    counts = await q.queue_counts(conn, ctx.runtime.now())
    paused = await q.paused_queues(conn)
    return queue_dto(queue, counts[queue], queue in paused)


@operation("getQueues")
async def get_queues(ctx: Ctx) -> list[QueueResponseDto]:
    async with ctx.db() as conn:
        counts = await q.queue_counts(conn, ctx.runtime.now())
        paused = await q.paused_queues(conn)
    return [queue_dto(name, value, name in paused) for name, value in counts.items()]


@operation("getQueue")
async def get_queue(ctx: Ctx) -> QueueResponseDto:
    queue = QueueName(ctx.path["name"])
    async with ctx.db() as conn:
        return await _queue(ctx, conn, queue.value)


@operation("updateQueue")
async def update_queue(ctx: Ctx) -> QueueResponseDto:
    queue = QueueName(ctx.path["name"])
    dto = await ctx.body(QueueUpdateDto)
    if dto.is_paused is True and queue in UNPAUSABLE:
        raise BadRequest(CANNOT_PAUSE)
    async with ctx.db() as conn:
        if dto.is_paused is not OMIT:
            await q.set_paused(conn, queue.value, dto.is_paused)
        return await _queue(ctx, conn, queue.value)


@operation("getQueueJobs")
async def get_queue_jobs(ctx: Ctx) -> list[QueueJobResponseDto]:
    queue = QueueName(ctx.path["name"])
    states = ctx.query.get("status") or None
    async with ctx.db() as conn:
        rows = await q.search(conn, queue.value, states, now=ctx.runtime.now())
    return [queue_job_dto(row) for row in rows]


@operation("emptyQueue")
async def empty_queue(ctx: Ctx) -> None:
    queue = QueueName(ctx.path["name"])
    dto = await ctx.body(QueueDeleteDto)
    async with ctx.db() as conn:
        await q.empty(conn, queue.value, ctx.runtime.now())
        if value_or(dto.failed, False):
            await q.clear_failed(conn, queue.value)
