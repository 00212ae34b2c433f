"""Tag "Views": the folders view over the caller's own original paths."""

from __future__ import annotations

from immich_trio.http.context import Ctx
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import AssetResponseDto
from immich_trio.http.registry import operation
from immich_trio.sql import views as q


@operation("getUniqueOriginalPaths")
async def get_unique_original_paths(ctx: Ctx) -> list[str]:
    async with ctx.db() as conn:
        return await q.unique_folders(conn, ctx.user.id)


@operation("getAssetsByOriginalPath")
async def get_assets_by_original_path(ctx: Ctx) -> list[AssetResponseDto]:
    async with ctx.db() as conn:
        rows = await q.assets_in_folder(conn, ctx.user.id, ctx.query["path"])
    return [asset_dto(row, caller_id=ctx.user.id, exif=row["exifInfo"]) for row in rows]
