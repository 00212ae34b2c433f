"""Shared links, the assets of an individual link: add and remove, one answer per id.

As Immich's addAssets/removeAssets: only individual links (``Invalid shared link type``);
adding an id already there (or twice in one request) is ``duplicate``, an asset the caller may
not share is ``no_permission``; removing an id not in the link is ``not_found``.
"""

from __future__ import annotations

from uuid import UUID

from immich_trio.http import bulk_ids
from immich_trio.http.access import check_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import AssetIdsDto, AssetIdsResponseDto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.http.shared_links.manage import find_link
from immich_trio.sql import shared_links as q

INVALID_TYPE = "Invalid shared link type"


def _refused(asset_id: UUID, error: str) -> AssetIdsResponseDto:
    return AssetIdsResponseDto(asset_id=asset_id, success=False, error=error)  # type: ignore[arg-type]


@operation("addSharedLinkAssets")
async def add_shared_link_assets(ctx: Ctx) -> list[AssetIdsResponseDto]:
    link_id = UUID(str(ctx.path["id"]))
    ids = (await ctx.body(AssetIdsDto)).asset_ids
    async with ctx.db() as conn, conn.transaction():
        link = await find_link(conn, ctx.user.id, link_id)
        if link["type"] != "INDIVIDUAL":
            raise BadRequest(INVALID_TYPE)
        present = await q.link_asset_ids(conn, link_id)
        allowed = await check_access(ctx, conn, "asset.share", [i for i in ids if i not in present])
        outcomes, added = bulk_ids.additions(ids, present, allowed)
        results = [
            AssetIdsResponseDto(asset_id=asset_id, success=True) if error is None
            else _refused(asset_id, error)
            for asset_id, error in outcomes
        ]
        await q.add_assets(conn, link_id, added)
    return results


@operation("removeSharedLinkAssets")
async def remove_shared_link_assets(ctx: Ctx) -> list[AssetIdsResponseDto]:
    link_id = UUID(str(ctx.path["id"]))
    ids = (await ctx.body(AssetIdsDto)).asset_ids
    async with ctx.db() as conn, conn.transaction():
        link = await find_link(conn, ctx.user.id, link_id)
        if link["type"] != "INDIVIDUAL":
            raise BadRequest(INVALID_TYPE)
        present = await q.link_asset_ids(conn, link_id)
        results = [
            AssetIdsResponseDto(asset_id=i, success=True) if i in present else _refused(i, "not_found")
            for i in ids
        ]
        await q.remove_assets(conn, link_id, list(dict.fromkeys(i for i in ids if i in present)))
    return results
