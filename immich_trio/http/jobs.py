"""The Jobs tag: legacy queue counts and commands, and admin-triggered jobs."""

from __future__ import annotations

from typing import Any

from immich_trio.http.context import Ctx
from immich_trio.http.dto import value_or
from immich_trio.http.dto.generated import JobCreateDto, QueueCommandDto, QueueResponseLegacyDto
from immich_trio.http.dto.jobs import legacy_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.jobs.names import MANUAL_JOBS, START_JOBS, ManualJobName, QueueName
from immich_trio.sql import jobs as q


async def legacy_status(ctx: Ctx, conn: Any, queue: str) -> QueueResponseLegacyDto:
    counts = await q.queue_counts(conn, ctx.runtime.now())
    paused = await q.paused_queues(conn)
    return legacy_dto(counts[queue], queue in paused)


@operation("getQueuesLegacy")
async def get_queues_legacy(ctx: Ctx) -> dict[str, QueueResponseLegacyDto]:
    async with ctx.db() as conn:
        counts = await q.queue_counts(conn, ctx.runtime.now())
        paused = await q.paused_queues(conn)
    return {name: legacy_dto(value, name in paused) for name, value in counts.items()}


@operation("runQueueCommandLegacy")
async def run_queue_command_legacy(ctx: Ctx) -> QueueResponseLegacyDto:
    queue = QueueName(ctx.path["name"])
    dto = await ctx.body(QueueCommandDto)
    async with ctx.db() as conn:
        match dto.command:
            case "start":
                await _start(ctx, conn, queue, value_or(dto.force, None))
            case "pause":
                await q.set_paused(conn, queue.value, True)
            case "resume":
                await q.set_paused(conn, queue.value, False)
            case "empty":
                await q.empty(conn, queue.value, ctx.runtime.now())
            case "clear-failed":
                await q.clear_failed(conn, queue.value)
        return await legacy_status(ctx, conn, queue.value)


async def _start(ctx: Ctx, conn: Any, queue: QueueName, force: bool | None) -> None:
    counts = await q.queue_counts(conn, ctx.runtime.now())
    if counts[queue.value]["active"] > 0:
        raise BadRequest("Job is already running")
    start = START_JOBS.get(queue)
    if start is None:
        raise BadRequest(f"Invalid job name: {queue.value}")
    await q.enqueue_job(conn, start.name, start.data(force))


@operation("createJob")
async def create_job(ctx: Ctx) -> None:
    dto = await ctx.body(JobCreateDto)
    job = MANUAL_JOBS[ManualJobName(dto.name)]
    async with ctx.db() as conn:
        await q.enqueue_job(conn, job.name, dict(job.data))
