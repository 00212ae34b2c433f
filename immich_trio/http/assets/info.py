"""One asset (``getAssetInfo``) and the caller's asset statistics."""

from __future__ import annotations

from uuid import UUID

import attrs

from immich_trio.http.access import require_elevated_permission, require_owned
from immich_trio.http.context import Ctx
from immich_trio.http.dto.assets import AssetResponseDto, asset_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql.assets import info as q


@attrs.frozen(kw_only=True)
class AssetStatsResponseDto:
    images: int
    videos: int
    total: int


@operation("getAssetInfo")
async def get_asset_info(ctx: Ctx) -> AssetResponseDto:
    asset_id: UUID = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_owned(ctx, conn, [asset_id], "asset.read")
        row = await q.asset_info(conn, asset_id)
    if row is None:
        raise BadRequest("Asset not found")
    dto = asset_dto(
        row,
        caller_id=ctx.user.id,
        exif=row["exifInfo"],
        owner=row["owner"],
        tags=row["tags"],
        people=(),
        stack=row["stack"],
    )
    return dto


@operation("getAssetStatistics")
async def get_asset_statistics(ctx: Ctx) -> AssetStatsResponseDto:
    visibility = ctx.query.get("visibility")
    if visibility == "locked":
        require_elevated_permission(ctx)
    async with ctx.db() as conn:
        stats = await q.statistics(
            conn,
            ctx.user.id,
            visibility=visibility,
            is_favorite=ctx.query.get("isFavorite"),
            is_trashed=ctx.query.get("isTrashed"),
        )
    return AssetStatsResponseDto(images=stats["images"], videos=stats["videos"], total=stats["total"])
