"""Key/value metadata of assets: get, put and delete, one asset or in bulk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import (
    AssetMetadataBulkDeleteDto,
    AssetMetadataBulkResponseDto,
    AssetMetadataBulkUpsertDto,
    AssetMetadataResponseDto,
    AssetMetadataUpsertDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql.assets import metadata as q

# Immich's class order, not the spec's
key_order(AssetMetadataResponseDto, "key", "value", "updated_at")
key_order(AssetMetadataBulkResponseDto, "asset_id", "key", "value", "updated_at")


def _metadata_dto(row: Mapping[str, Any]) -> AssetMetadataResponseDto:
    return AssetMetadataResponseDto(key=row["key"], value=row["value"], updated_at=row["updatedAt"])


@operation("getAssetMetadata")
async def get_asset_metadata(ctx: Ctx) -> list[AssetMetadataResponseDto]:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        rows = await q.metadata(conn, asset_id)
    return [_metadata_dto(r) for r in rows]


@operation("getAssetMetadataByKey")
async def get_asset_metadata_by_key(ctx: Ctx) -> AssetMetadataResponseDto:
    asset_id = UUID(str(ctx.path["id"]))
    key = str(ctx.path["key"])
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        row = await q.metadata_by_key(conn, asset_id, key)
    if row is None:
        raise BadRequest(f'Metadata with key "{key}" not found for asset with id "{asset_id}"')
    return _metadata_dto(row)


@operation("updateAssetMetadata")
async def update_asset_metadata(ctx: Ctx) -> list[AssetMetadataResponseDto]:
    asset_id = UUID(str(ctx.path["id"]))
    dto = await ctx.body(AssetMetadataUpsertDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", [asset_id])
        rows = await q.upsert_metadata(
            conn, [(asset_id, item.key, item.value) for item in dto.items]
        )
    return [_metadata_dto(r) for r in rows]


@operation("deleteAssetMetadata")
async def delete_asset_metadata(ctx: Ctx) -> None:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", [asset_id])
        await q.delete_metadata(conn, [(asset_id, str(ctx.path["key"]))])


@operation("updateBulkAssetMetadata")
async def update_bulk_asset_metadata(ctx: Ctx) -> list[AssetMetadataBulkResponseDto]:
    items = (await ctx.body(AssetMetadataBulkUpsertDto)).items
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", [i.asset_id for i in items])
        rows = await q.upsert_metadata(conn, [(i.asset_id, i.key, i.value) for i in items])
    return [
        AssetMetadataBulkResponseDto(
            asset_id=r["assetId"], key=r["key"], value=r["value"], updated_at=r["updatedAt"]
        )
        for r in rows
    ]


@operation("deleteBulkAssetMetadata")
async def delete_bulk_asset_metadata(ctx: Ctx) -> None:
    items = (await ctx.body(AssetMetadataBulkDeleteDto)).items
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", [i.asset_id for i in items])
        await q.delete_metadata(conn, [(i.asset_id, i.key) for i in items])
