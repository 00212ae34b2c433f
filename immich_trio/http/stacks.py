"""The Stacks tag: group a user's assets (bursts, RAW+JPEG) under a primary asset.

Immich's rules: creating needs ``asset.update`` on every asset (the first becomes primary; the
caller's stacks whose primary is among them are merged in); reading, updating and deleting
need ``stack.read`` / ``stack.update`` / ``stack.delete``. Every change tells the caller's
sockets ``on_asset_stack_update`` (no arguments), as Immich's notification service does for
its ``StackCreate``, ``StackUpdate``, ``StackDelete`` and ``StackDeleteAll`` events.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import (
    BulkIdsDto,
    StackCreateDto,
    StackResponseDto,
    StackUpdateDto,
)
from immich_trio.http.dto.stacks import stack_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import events
from immich_trio.sql import stacks as q

STACK_UPDATE_EVENT = "on_asset_stack_update"
NOT_IN_STACK = "Asset not in stack"
PRIMARY_NOT_IN_STACK = "Primary asset must be in the stack"
CANNOT_REMOVE_PRIMARY = "Cannot remove stack's primary asset"
STACK_NOT_FOUND = "Asset stack not found"


def _path_id(ctx: Ctx, name: str = "id") -> UUID:
    return UUID(str(ctx.path[name]))


async def _loaded(ctx: Ctx, conn: Any, stack: dict[str, Any], *, with_tags: bool) -> StackResponseDto:
    assets = await q.stack_assets(conn, [stack["id"]], with_tags=with_tags)
    return stack_dto(stack, assets[stack["id"]], ctx.user.id)


async def _find_or_fail(conn: Any, stack_id: UUID) -> dict[str, Any]:
    stack = await q.get(conn, stack_id)
    if stack is None:  # gone between the access check and the read: Immich's plain Error (500)
        raise RuntimeError(STACK_NOT_FOUND)
    return stack


@operation("searchStacks")
async def search_stacks(ctx: Ctx) -> list[StackResponseDto]:
    primary = ctx.query.get("primaryAssetId")
    async with ctx.db() as conn:
        stacks = await q.search(conn, ctx.user.id, None if primary is None else UUID(str(primary)))
        assets = await q.stack_assets(conn, [s["id"] for s in stacks], with_tags=False)
    return [stack_dto(s, assets[s["id"]], ctx.user.id) for s in stacks]


@operation("createStack")
async def create_stack(ctx: Ctx) -> StackResponseDto:
    dto = await ctx.body(StackCreateDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", dto.asset_ids)
        stack = await q.create(conn, ctx.user.id, dto.asset_ids)
        await events.publish_to_user(conn, ctx.user.id, STACK_UPDATE_EVENT)
        return await _loaded(ctx, conn, stack, with_tags=False)


@operation("getStack")
async def get_stack(ctx: Ctx) -> StackResponseDto:
    stack_id = _path_id(ctx)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "stack.read", [stack_id])
        stack = await _find_or_fail(conn, stack_id)
        return await _loaded(ctx, conn, stack, with_tags=True)


@operation("updateStack")
async def update_stack(ctx: Ctx) -> StackResponseDto:
    dto = await ctx.body(StackUpdateDto)
    stack_id = _path_id(ctx)
    primary = None if dto.primary_asset_id is OMIT else dto.primary_asset_id
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "stack.update", [stack_id])
        await _find_or_fail(conn, stack_id)
        if primary is not None:
            assets = await q.stack_assets(conn, [stack_id], with_tags=False)
            if all(a["id"] != primary for a in assets[stack_id]):
                raise BadRequest(PRIMARY_NOT_IN_STACK)
        updated = await q.set_primary(conn, stack_id, primary)
        if updated is None:
            raise RuntimeError(STACK_NOT_FOUND)
        await events.publish_to_user(conn, ctx.user.id, STACK_UPDATE_EVENT)
        return await _loaded(ctx, conn, updated, with_tags=True)


@operation("deleteStack")
async def delete_stack(ctx: Ctx) -> None:
    stack_id = _path_id(ctx)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "stack.delete", [stack_id])
        await q.delete(conn, [stack_id])
        await events.publish_to_user(conn, ctx.user.id, STACK_UPDATE_EVENT)


@operation("deleteStacks")
async def delete_stacks(ctx: Ctx) -> None:
    dto = await ctx.body(BulkIdsDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "stack.delete", dto.ids)
        await q.delete(conn, dto.ids)
        await events.publish_to_user(conn, ctx.user.id, STACK_UPDATE_EVENT)


@operation("removeAssetFromStack")
async def remove_asset_from_stack(ctx: Ctx) -> None:
    stack_id = _path_id(ctx)
    asset_id = _path_id(ctx, "assetId")
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "stack.update", [stack_id])
        found = await q.stack_of_asset(conn, asset_id)
        if found is None or found["stackId"] != stack_id:
            raise BadRequest(NOT_IN_STACK)
        if found["primaryAssetId"] == asset_id:
            raise BadRequest(CANNOT_REMOVE_PRIMARY)
        await q.leave_stack(conn, asset_id)
        await events.publish_to_user(conn, ctx.user.id, STACK_UPDATE_EVENT)
