"""The Tags tag: a user's hierarchical tags (``Travel/Italy``) and the assets they label.

As Immich's tag service: creating ``name`` under ``parentId`` makes the value
``<parent value>/<name>``; upserting paths creates every missing level (empty levels of
``a//b/`` are dropped); deleting a tag deletes everything below it. Tagging answers per id
(``duplicate``, ``no_permission``, ``not_found``) or, in bulk, the number of new pairs. Each
change to an asset's tags is mirrored into ``asset_exif.tags`` and locks that property
against metadata refreshes and queues ``SidecarWrite`` for the asset (its XMP sidecar gets
the new ``TagsList``). Immich sends no socket.io event for tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from immich_trio.http import bulk_ids
from immich_trio.http.access import check_access, require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import (
    BulkIdResponseDto,
    BulkIdsDto,
    TagBulkAssetsDto,
    TagBulkAssetsResponseDto,
    TagCreateDto,
    TagResponseDto,
    TagUpdateDto,
    TagUpsertDto,
)
from immich_trio.http.dto.tags import tag_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import tags as q
from immich_trio.sql.jobs import Conn

NOT_FOUND = "Tag not found"
ALREADY_EXISTS = "A tag with that name already exists"


def _color(value: str | None) -> str | None:
    """Immich stores a colour with its ``#``, adding one when the client left it out."""
    if value is None or value.startswith("#"):
        return value
    return f"#{value}"


async def _write_sidecars(conn: Conn, asset_ids: Iterable[UUID]) -> None:
    """Immich's ``AssetTag``/``AssetUntag``: each asset's sidecar gets its new tag list."""
    await jobs_q.enqueue_for_assets(conn, JobName.SIDECAR_WRITE, sorted(asset_ids), {"tags": True})


@operation("getAllTags")
async def get_all_tags(ctx: Ctx) -> list[TagResponseDto]:
    async with ctx.db() as conn:
        rows = await q.list_tags(conn, ctx.user.id)
    return [tag_dto(row) for row in rows]


@operation("getTagById")
async def get_tag_by_id(ctx: Ctx) -> TagResponseDto:
    tag_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        await require_access(ctx, conn, "tag.read", [tag_id])
        row = await q.get_tag(conn, tag_id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return tag_dto(row)


@operation("createTag")
async def create_tag(ctx: Ctx) -> TagResponseDto:
    dto = await ctx.body(TagCreateDto)
    parent_id = dto.parent_id if isinstance(dto.parent_id, UUID) else None
    color = dto.color if isinstance(dto.color, str) else None
    me = ctx.user.id
    async with ctx.db() as conn, conn.transaction():
        value = dto.name
        if parent_id is not None:
            await require_access(ctx, conn, "tag.read", [parent_id])
            parent = await q.get_tag(conn, parent_id)
            if parent is None:
                raise BadRequest(NOT_FOUND)
            value = f"{parent['value']}/{dto.name}"
        if await q.value_taken(conn, me, value):
            raise BadRequest(ALREADY_EXISTS)
        row = await q.create_tag(conn, me, value, color=_color(color), parent_id=parent_id)
    if row is None:  # a concurrent twin won
        raise BadRequest(ALREADY_EXISTS)
    return tag_dto(row)


@operation("updateTag")
async def update_tag(ctx: Ctx) -> TagResponseDto:
    tag_id = UUID(ctx.path["id"])
    dto = await ctx.body(TagUpdateDto)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "tag.update", [tag_id])
        if isinstance(dto.color, str) or dto.color is None:
            row = await q.set_color(conn, tag_id, _color(dto.color))
        else:  # nothing to change
            row = await q.get_tag(conn, tag_id)
    if row is None:  # deleted between the check and the update
        raise BadRequest(NOT_FOUND)
    return tag_dto(row)


@operation("upsertTags")
async def upsert_tags(ctx: Ctx) -> list[TagResponseDto]:
    dto = await ctx.body(TagUpsertDto)
    async with ctx.db() as conn, conn.transaction():
        rows = await q.upsert_paths(conn, ctx.user.id, dto.tags)
    return [tag_dto(row) for row in rows]


@operation("deleteTag")
async def delete_tag(ctx: Ctx) -> None:
    tag_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        await require_access(ctx, conn, "tag.delete", [tag_id])
        await q.delete_tag(conn, tag_id)


@operation("bulkTagAssets")
async def bulk_tag_assets(ctx: Ctx) -> TagBulkAssetsResponseDto:
    dto = await ctx.body(TagBulkAssetsDto)
    async with ctx.db() as conn, conn.transaction():
        tag_ids = await check_access(ctx, conn, "tag.asset", dto.tag_ids)
        asset_ids = await check_access(ctx, conn, "asset.update", dto.asset_ids)
        if not tag_ids or not asset_ids:
            return TagBulkAssetsResponseDto(count=0)
        added = await q.add_pairs(conn, sorted(tag_ids), sorted(asset_ids))
        if added:
            await q.mirror_exif_tags(conn, set(added))
            await _write_sidecars(conn, set(added))
    return TagBulkAssetsResponseDto(count=len(added))


@operation("tagAssets")
async def tag_assets(ctx: Ctx) -> list[BulkIdResponseDto]:
    tag_id = UUID(ctx.path["id"])
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "tag.asset", [tag_id])
        present = await q.present_assets(conn, tag_id, ids)
        allowed = await check_access(ctx, conn, "asset.share", [i for i in ids if i not in present])
        outcomes, added = bulk_ids.additions(ids, present, allowed)
        if added:
            await q.add_assets(conn, tag_id, added)
            await q.mirror_exif_tags(conn, added)
            await _write_sidecars(conn, added)
    return bulk_ids.responses(outcomes)


@operation("untagAssets")
async def untag_assets(ctx: Ctx) -> list[BulkIdResponseDto]:
    tag_id = UUID(ctx.path["id"])
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "tag.asset", [tag_id])
        present = await q.present_assets(conn, tag_id, ids)
        allowed = await bulk_ids.removable(ctx, conn, "tag.delete", tag_id, present)
        outcomes, removed = bulk_ids.removals(ids, present, allowed)
        if removed:
            await q.remove_assets(conn, tag_id, removed)
            await q.mirror_exif_tags(conn, removed)
            await _write_sidecars(conn, removed)
    return bulk_ids.responses(outcomes)
