"""The Memories tag: list (with Immich's filters), statistics, create, get, update, delete, and
add or remove assets with per-id results (``http/bulk_ids.py``).

As Immich's ``memory.service.ts``: a memory is its owner's alone (``memory.*`` rules); assets
are added when the caller may share them (``asset.share``); adding needs only ``memory.read``
of the memory, removing ``memory.update``, and the owner removes any asset it holds. The
nightly generation is a job (``actors/memories.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from immich_trio.http import bulk_ids
from immich_trio.http.access import check_access, require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import (
    BulkIdResponseDto,
    BulkIdsDto,
    MemoryCreateDto,
    MemoryResponseDto,
    MemoryStatisticsResponseDto,
    MemoryUpdateDto,
)
from immich_trio.http.dto.memories import memory_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import memories as q

NOT_FOUND = "Memory not found"


def _filters(ctx: Ctx) -> dict[str, Any]:
    """``MemorySearchDto`` from the query: ``for`` is a date, compared as its UTC midnight."""
    query = ctx.query
    day = query.get("for")
    moment = datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC) if day else None
    return {
        "isSaved": query.get("isSaved"),
        "type": query.get("type"),
        "for": moment,
        "isTrashed": query.get("isTrashed"),
    }


async def _load(conn: Any, memory_id: UUID, caller: UUID) -> MemoryResponseDto:
    row = await q.get(conn, memory_id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return memory_dto(row, caller)


@operation("searchMemories")
async def search_memories(ctx: Ctx) -> list[MemoryResponseDto]:
    size = ctx.query.get("size")
    async with ctx.db() as conn:
        rows = await q.search(
            conn, ctx.user.id, _filters(ctx), order=ctx.query.get("order") or "desc", size=size
        )
    return [memory_dto(row, ctx.user.id) for row in rows]


@operation("memoriesStatistics")
async def memories_statistics(ctx: Ctx) -> MemoryStatisticsResponseDto:
    async with ctx.db() as conn:
        total = await q.statistics(conn, ctx.user.id, _filters(ctx))
    return MemoryStatisticsResponseDto(total=total)


@operation("createMemory")
async def create_memory(ctx: Ctx) -> MemoryResponseDto:
    dto = await ctx.body(MemoryCreateDto)
    wanted = list(dict.fromkeys(dto.asset_ids)) if dto.asset_ids is not OMIT else []
    fields: dict[str, Any] = {"type": dto.type, "data": {"year": dto.data.year}, "memoryAt": dto.memory_at}
    for key, value in (("isSaved", dto.is_saved), ("seenAt", dto.seen_at), ("showAt", dto.show_at),
                       ("hideAt", dto.hide_at)):  # fmt: skip
        if value is not OMIT:
            fields[key] = value
    async with ctx.db() as conn, conn.transaction():
        allowed = await check_access(ctx, conn, "asset.share", wanted)
        memory_id = await q.create(conn, ctx.user.id, fields, [i for i in wanted if i in allowed])
        return await _load(conn, memory_id, ctx.user.id)


@operation("getMemory")
async def get_memory(ctx: Ctx) -> MemoryResponseDto:
    memory_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "memory.read", [memory_id])
        return await _load(conn, memory_id, ctx.user.id)


@operation("updateMemory")
async def update_memory(ctx: Ctx) -> MemoryResponseDto:
    dto = await ctx.body(MemoryUpdateDto)
    memory_id = UUID(str(ctx.path["id"]))
    changes = {
        key: value
        for key, value in (("isSaved", dto.is_saved), ("memoryAt", dto.memory_at), ("seenAt", dto.seen_at))
        if value is not OMIT
    }
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "memory.update", [memory_id])
        await q.update(conn, memory_id, changes)
        return await _load(conn, memory_id, ctx.user.id)


@operation("deleteMemory")
async def delete_memory(ctx: Ctx) -> None:
    memory_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "memory.delete", [memory_id])
        await q.delete(conn, memory_id)


@operation("addMemoryAssets")
async def add_memory_assets(ctx: Ctx) -> list[BulkIdResponseDto]:
    memory_id = UUID(str(ctx.path["id"]))
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "memory.read", [memory_id])
        present = await q.present_assets(conn, memory_id, ids)
        allowed = await check_access(ctx, conn, "asset.share", [i for i in ids if i not in present])
        outcomes, added = bulk_ids.additions(ids, present, allowed)
        if added:
            await q.add_assets(conn, memory_id, added)
            await q.touch(conn, memory_id)
    return bulk_ids.responses(outcomes)


@operation("removeMemoryAssets")
async def remove_memory_assets(ctx: Ctx) -> list[BulkIdResponseDto]:
    memory_id = UUID(str(ctx.path["id"]))
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "memory.update", [memory_id])
        present = await q.present_assets(conn, memory_id, ids)
        allowed = await bulk_ids.removable(ctx, conn, "memory.delete", memory_id, present)
        outcomes, removed = bulk_ids.removals(ids, present, allowed)
        if removed:
            await q.remove_assets(conn, memory_id, removed)
            await q.touch(conn, memory_id)
    return bulk_ids.responses(outcomes)
