"""One asset (``getAssetInfo``) and the caller's asset statistics."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from immich_trio.http import media_types
from immich_trio.http.access import require_access, require_elevated_permission, shared_link_grant
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.assets import asset_dto, b64
from immich_trio.http.dto.generated import AssetResponseDto, AssetStatsResponseDto
from immich_trio.http.dto.people import person_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import people as people_q
from immich_trio.sql.assets import info as q


@attrs.frozen(kw_only=True)
class SanitizedAssetResponseDto:
    """What a shared link without ``showMetadata`` sees of an asset (Immich's stripMetadata).

    Immich answers ``getAssetInfo`` with this shape, which the spec does not have
    (docs/reference/behaviour.md §6), so it is written by hand."""

    id: UUID
    type: str
    original_mime_type: str
    thumbhash: str | None
    local_date_time: datetime
    duration: int | None
    live_photo_video_id: UUID | None
    has_metadata: bool
    width: int | None
    height: int | None


@operation("getAssetInfo")
async def get_asset_info(ctx: Ctx) -> AssetResponseDto | SanitizedAssetResponseDto:
    asset_id: UUID = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        row = await q.asset_info(conn, asset_id)
        if row is None:
            raise BadRequest("Asset not found")
        link = shared_link_grant(ctx)
        owner_view = link is None and str(row["ownerId"]) == str(ctx.user.id)
        people = [person_dto(p) for p in await people_q.asset_people(conn, asset_id)] if owner_view else []
    if link is not None and not link.show_metadata:
        return SanitizedAssetResponseDto(
            id=row["id"],
            type=row["type"],
            original_mime_type=media_types.mime_type(row["originalFileName"]),
            thumbhash=b64(row["thumbhash"]),
            local_date_time=row["localDateTime"],
            duration=row["duration"],
            live_photo_video_id=row["livePhotoVideoId"],
            has_metadata=False,
            width=row["width"],
            height=row["height"],
        )
    dto = asset_dto(
        row,
        caller_id=ctx.user.id,
        exif=row["exifInfo"],
        owner=OMIT if link is not None else row["owner"],  # a link does not name the owner
        tags=row["tags"],
        people=people,
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
