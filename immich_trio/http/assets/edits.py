"""Edits of assets: ``updateAsset``, ``updateAssets`` and ``deleteAssets`` (to the trash or for good)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, _Omit, value_or
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import (
    AssetBulkDeleteDto,
    AssetBulkUpdateDto,
    AssetResponseDto,
    UpdateAssetDto,
)
from immich_trio.http.errors import BadRequest, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.assets import edits as q
from immich_trio.sql.assets import info as info_q

log = logging.getLogger(__name__)

# The exif fields an update may set: (attribute of the request DTO, column and wire name).
EXIF_FIELDS = (
    ("description", "description"),
    ("date_time_original", "dateTimeOriginal"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("rating", "rating"),
)


async def _enqueue(conn: Any, name: JobName, data: Mapping[str, Any]) -> None:
    await jobs_q.enqueue_job(conn, name, data)


def _uuid_field(value: str | None, name: str) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise ValidationFailed(
            [{"code": "invalid_format", "format": "uuid", "path": [name], "message": "Invalid UUID"}]
        ) from None


# -- exif edits ----------------------------------------------------------------------------


def _fixed_zone_name(value: datetime) -> str | None:
    """Luxon's name of a fixed offset: ``UTC``, ``UTC+2``, ``UTC-9:30``."""
    offset = value.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def _parse_date_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValidationFailed(
            [{"code": "invalid_format", "format": "datetime", "path": ["dateTimeOriginal"],
              "message": "Invalid ISO datetime"}]
        ) from None


def exif_writes(dto: UpdateAssetDto | AssetBulkUpdateDto) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(columns, sidecar job data)`` of the exif fields present in an update body.

    A ``dateTimeOriginal`` with an explicit offset also sets ``timeZone``, as Immich does.
    """
    columns: dict[str, Any] = {}
    job: dict[str, Any] = {}
    for attribute, name in EXIF_FIELDS:
        value = getattr(dto, attribute)
        if value is OMIT:
            continue
        job[name] = value
        if name == "dateTimeOriginal" and value is not None:
            parsed = _parse_date_time(value)
            zone = _fixed_zone_name(parsed)
            columns[name] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            if zone is not None:
                columns["timeZone"] = job["timeZone"] = zone
        else:
            columns[name] = value
    return columns, job


def _asset_columns(dto: UpdateAssetDto | AssetBulkUpdateDto) -> dict[str, Any]:
    """The asset columns an update sets, from the fields present in its body."""
    values: dict[str, Any] = {}
    if not isinstance(dto.is_favorite, _Omit):
        values["isFavorite"] = dto.is_favorite
    if not isinstance(dto.visibility, _Omit):
        values["visibility"] = dto.visibility
    return values


# -- updateAsset / updateAssets --------------------------------------------------------------


async def _link_motion(ctx: Ctx, conn: Any, motion_id: UUID) -> UUID | None:
    """Checks before making ``motion_id`` the video part of a live photo; hides it.

    Returns the id if it was hidden (the caller then tells the user's clients).
    """
    motion = await q.motion_part(conn, motion_id)
    if motion is None:
        raise BadRequest("Live photo video not found")
    if motion["type"] != "VIDEO":
        raise BadRequest("Live photo video must be a video")
    if motion["ownerId"] != ctx.user.id:
        raise BadRequest("Live photo video does not belong to the user")
    if motion["visibility"] == "timeline":
        await q.update_assets(conn, [motion_id], {"visibility": "hidden"})
        return motion_id
    return None


@operation("updateAsset")
async def update_asset(ctx: Ctx) -> AssetResponseDto:
    asset_id = UUID(str(ctx.path["id"]))
    dto = await ctx.body(UpdateAssetDto)
    live_id = value_or(dto.live_photo_video_id, None)
    hidden: UUID | None = None
    shown: UUID | None = None
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", [asset_id])
        previous_motion: Mapping[str, Any] | None = None
        if live_id is not None:
            hidden = await _link_motion(ctx, conn, live_id)
        elif dto.live_photo_video_id is None:  # present and null: unlink
            current = await q.live_photo_video_of(conn, asset_id)
            previous_motion = await q.motion_part(conn, current) if current else None
            if previous_motion is not None and "/encoded-video/" in previous_motion["originalPath"]:
                raise BadRequest("Cannot unlink Android motion photos")
        columns, job = exif_writes(dto)
        await q.upsert_exif_locked(conn, [asset_id], columns)
        values = _asset_columns(dto)
        if not isinstance(dto.live_photo_video_id, _Omit):
            values["livePhotoVideoId"] = live_id
        await q.update_assets(conn, [asset_id], values)
        if values.get("visibility") == "locked":
            await q.remove_from_all_albums(conn, [asset_id])
        row = await info_q.asset_info(conn, asset_id)
        if row is None:
            raise BadRequest("Asset not found")
        if previous_motion is not None:
            # The unlinked video shows again, with the still's visibility.
            await q.update_assets(conn, [previous_motion["id"]], {"visibility": row["visibility"]})
            shown = previous_motion["id"]
            await _enqueue(conn, JobName.ASSET_GENERATE_THUMBNAILS, {"id": str(shown), "notify": True})
        if job:
            await _enqueue(conn, JobName.SIDECAR_WRITE, {"id": str(asset_id), **job})
        if hidden is not None:
            await events.publish_to_user(conn, ctx.user.id, "on_asset_hidden", str(hidden))
        await events.publish(conn, ctx.user.id, "on_asset_update", asset_id, viewer=ctx.user.id)
    return asset_dto(row, caller_id=ctx.user.id, exif=row["exifInfo"], people=())


@operation("updateAssets")
async def update_assets(ctx: Ctx) -> None:
    dto = await ctx.body(AssetBulkUpdateDto)
    ids = dto.ids
    values = _asset_columns(dto)
    if not isinstance(dto.duplicate_id, _Omit):
        values["duplicateId"] = _uuid_field(dto.duplicate_id, "duplicateId")
    columns, job = exif_writes(dto)
    minutes = value_or(dto.date_time_relative, 0)
    time_zone = value_or(dto.time_zone, None)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", ids)
        if not ids:
            return
        await q.upsert_exif_locked(conn, ids, columns)
        if minutes or time_zone is not None:
            await q.shift_date_time_original(conn, ids, minutes, time_zone)
        await q.update_assets(conn, ids, values)
        if values.get("visibility") == "locked":
            await q.remove_from_all_albums(conn, ids)
        if job or minutes or time_zone is not None:
            await jobs_q.enqueue_for_assets(conn, JobName.SIDECAR_WRITE, ids, job)


# -- deleteAssets ----------------------------------------------------------------------------


@operation("deleteAssets")
async def delete_assets(ctx: Ctx) -> None:
    dto = await ctx.body(AssetBulkDeleteDto)
    ids = list(dict.fromkeys(dto.ids))
    force = value_or(dto.force, False)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.delete", ids)
        if not ids:
            return
        await q.trash(conn, ids, ctx.runtime.now(), force=force)
        if force:
            # The job hard-deletes every `deleted` asset; each deletion tells the owner.
            await _enqueue(conn, JobName.ASSET_EMPTY_TRASH, {})
        else:
            await events.publish_ids(conn, ctx.user.id, "on_asset_trash", ids)
