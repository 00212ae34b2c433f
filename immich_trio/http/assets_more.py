"""The Assets tag beyond upload and info: edits, trash, statistics, metadata and the file routes.

``uploadAsset``, ``checkBulkUpload`` and ``getAssetInfo`` live in ``http/assets.py``. Operations
that need features not built yet (edits, OCR, copy, asset jobs, HLS) stay 501.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

import attrs
from quart import Response

from immich_trio.http import media_types
from immich_trio.http.context import Ctx
from immich_trio.http.dto import to_wire
from immich_trio.http.dto.assets import AssetResponseDto, asset_dto
from immich_trio.http.errors import BadRequest, NotFound, ValidationFailed, no_access
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.http.timeline import has_elevated_permission, require_elevated_permission
from immich_trio.jobs.names import JobName
from immich_trio.sql import assets as assets_q
from immich_trio.sql import assets_more as q

try:  # durable jobs are optional until the job runner lands everywhere
    from immich_trio.sql import jobs as jobs_q
except ImportError:  # pragma: no cover
    jobs_q = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MEDIA_NOT_FOUND = "Asset media not found"
NOT_A_VIDEO = "Asset not found or asset is not a video"
EXIF_FIELDS = ("description", "dateTimeOriginal", "latitude", "longitude", "rating")


# -- DTOs (their home is http/dto/assets.py, owned by the upload side) ----------------------


@attrs.frozen(kw_only=True)
class AssetStatsResponseDto:
    images: int
    videos: int
    total: int


@attrs.frozen(kw_only=True)
class AssetMetadataResponseDto:
    key: str
    value: dict[str, Any]
    updated_at: datetime


@attrs.frozen(kw_only=True)
class AssetMetadataBulkResponseDto:
    asset_id: UUID
    key: str
    value: dict[str, Any]
    updated_at: datetime


def _metadata_dto(row: Mapping[str, Any]) -> AssetMetadataResponseDto:
    return AssetMetadataResponseDto(key=row["key"], value=row["value"], updated_at=row["updatedAt"])


# -- access --------------------------------------------------------------------------------


def _elevated(ctx: Ctx) -> bool:
    return has_elevated_permission(ctx)


async def _require_owned(ctx: Ctx, conn: Any, ids: Sequence[UUID], permission: str) -> None:
    """Immich's owner access check: every id must be the caller's (locked ones need a PIN)."""
    assert ctx.auth is not None
    if ctx.auth.shared_link is not None:
        raise no_access(permission)
    wanted = set(ids)
    if not wanted:
        return
    owned = await q.owned_ids(conn, wanted, ctx.user.id, elevated=_elevated(ctx))
    if owned != wanted:
        raise no_access(permission)


async def _enqueue(conn: Any, name: JobName, data: Mapping[str, Any]) -> None:
    if jobs_q is not None:
        await jobs_q.enqueue_job(conn, name, data)


def _emit(ctx: Ctx, event: str, *args: object) -> None:
    hub = ctx.runtime.hub
    if hub is not None:
        hub.emit_to_user(str(ctx.user.id), event, *args)


def _uuid_field(data: Mapping[str, Any], name: str) -> UUID | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return UUID(str(value))
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


def exif_writes(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(columns, sidecar job data)`` of the exif fields present in an update body.

    A ``dateTimeOriginal`` with an explicit offset also sets ``timeZone``, as Immich does.
    """
    columns: dict[str, Any] = {}
    job: dict[str, Any] = {}
    for name in EXIF_FIELDS:
        if name not in data:
            continue
        value = data[name]
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
    data = await ctx.json()
    live_id = _uuid_field(data, "livePhotoVideoId")
    hidden: UUID | None = None
    shown: UUID | None = None
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, [asset_id], "asset.update")
        previous_motion: Mapping[str, Any] | None = None
        if live_id is not None:
            hidden = await _link_motion(ctx, conn, live_id)
        elif "livePhotoVideoId" in data:
            current = await q.live_photo_video_of(conn, asset_id)
            previous_motion = await q.motion_part(conn, current) if current else None
            if previous_motion is not None and "/encoded-video/" in previous_motion["originalPath"]:
                raise BadRequest("Cannot unlink Android motion photos")
        columns, job = exif_writes(data)
        await q.upsert_exif_locked(conn, [asset_id], columns)
        values = {k: data[k] for k in ("isFavorite", "visibility") if k in data}
        if "livePhotoVideoId" in data:
            values["livePhotoVideoId"] = live_id
        await q.update_assets(conn, [asset_id], values)
        if values.get("visibility") == "locked":
            await q.remove_from_all_albums(conn, [asset_id])
        row = await assets_q.asset_info(conn, asset_id)
        if row is None:
            raise BadRequest("Asset not found")
        if previous_motion is not None:
            # The unlinked video shows again, with the still's visibility.
            await q.update_assets(conn, [previous_motion["id"]], {"visibility": row["visibility"]})
            shown = previous_motion["id"]
            await _enqueue(conn, JobName.ASSET_GENERATE_THUMBNAILS, {"id": str(shown), "notify": True})
        if job:
            await _enqueue(conn, JobName.SIDECAR_WRITE, {"id": str(asset_id), **job})
    dto = asset_dto(row, caller_id=ctx.user.id, exif=row["exifInfo"], people=())
    if hidden is not None:
        _emit(ctx, "on_asset_hidden", str(hidden))
    _emit(ctx, "on_asset_update", to_wire(dto))
    return dto


@operation("updateAssets")
async def update_assets(ctx: Ctx) -> None:
    data = await ctx.json()
    ids = [UUID(i) for i in data["ids"]]
    values = {k: data[k] for k in ("isFavorite", "visibility") if k in data}
    if "duplicateId" in data:
        values["duplicateId"] = _uuid_field(data, "duplicateId")
    columns, job = exif_writes(data)
    minutes = data.get("dateTimeRelative") or 0
    time_zone = data.get("timeZone")
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, ids, "asset.update")
        if not ids:
            return
        await q.upsert_exif_locked(conn, ids, columns)
        if minutes or time_zone is not None:
            await q.shift_date_time_original(conn, ids, minutes, time_zone)
        await q.update_assets(conn, ids, values)
        if values.get("visibility") == "locked":
            await q.remove_from_all_albums(conn, ids)
        if job or minutes or time_zone is not None:
            for asset_id in ids:
                await _enqueue(conn, JobName.SIDECAR_WRITE, {"id": str(asset_id), **job})


# -- deleteAssets ----------------------------------------------------------------------------


@operation("deleteAssets")
async def delete_assets(ctx: Ctx) -> None:
    data = await ctx.json()
    ids = list(dict.fromkeys(UUID(i) for i in data["ids"]))
    force = bool(data.get("force"))
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, ids, "asset.delete")
        if not ids:
            return
        await q.trash(conn, ids, ctx.runtime.now(), force=force)
        if force:
            # The job hard-deletes every `deleted` asset; each deletion tells the owner.
            await _enqueue(conn, JobName.ASSET_EMPTY_TRASH, {})
    if not force:
        _emit(ctx, "on_asset_trash", [str(i) for i in ids])


# -- getAssetStatistics ----------------------------------------------------------------------


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


# -- metadata --------------------------------------------------------------------------------


@operation("getAssetMetadata")
async def get_asset_metadata(ctx: Ctx) -> list[AssetMetadataResponseDto]:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await _require_owned(ctx, conn, [asset_id], "asset.read")
        rows = await q.metadata(conn, asset_id)
    return [_metadata_dto(r) for r in rows]


@operation("getAssetMetadataByKey")
async def get_asset_metadata_by_key(ctx: Ctx) -> AssetMetadataResponseDto:
    asset_id = UUID(str(ctx.path["id"]))
    key = str(ctx.path["key"])
    async with ctx.db() as conn:
        await _require_owned(ctx, conn, [asset_id], "asset.read")
        row = await q.metadata_by_key(conn, asset_id, key)
    if row is None:
        raise BadRequest(f'Metadata with key "{key}" not found for asset with id "{asset_id}"')
    return _metadata_dto(row)


@operation("updateAssetMetadata")
async def update_asset_metadata(ctx: Ctx) -> list[AssetMetadataResponseDto]:
    asset_id = UUID(str(ctx.path["id"]))
    data = await ctx.json()
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, [asset_id], "asset.update")
        rows = await q.upsert_metadata(
            conn, [(asset_id, item["key"], item["value"]) for item in data["items"]]
        )
    return [_metadata_dto(r) for r in rows]


@operation("deleteAssetMetadata")
async def delete_asset_metadata(ctx: Ctx) -> None:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, [asset_id], "asset.update")
        await q.delete_metadata(conn, [(asset_id, str(ctx.path["key"]))])


@operation("updateBulkAssetMetadata")
async def update_bulk_asset_metadata(ctx: Ctx) -> list[AssetMetadataBulkResponseDto]:
    items = (await ctx.json())["items"]
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, [UUID(i["assetId"]) for i in items], "asset.update")
        rows = await q.upsert_metadata(
            conn, [(UUID(i["assetId"]), i["key"], i["value"]) for i in items]
        )
    return [
        AssetMetadataBulkResponseDto(
            asset_id=r["assetId"], key=r["key"], value=r["value"], updated_at=r["updatedAt"]
        )
        for r in rows
    ]


@operation("deleteBulkAssetMetadata")
async def delete_bulk_asset_metadata(ctx: Ctx) -> None:
    items = (await ctx.json())["items"]
    async with ctx.db() as conn, conn.transaction():
        await _require_owned(ctx, conn, [UUID(i["assetId"]) for i in items], "asset.update")
        await q.delete_metadata(conn, [(UUID(i["assetId"]), i["key"]) for i in items])


# -- files -----------------------------------------------------------------------------------


def _request_headers(ctx: Ctx) -> dict[str, str]:
    return {k.lower(): v for k, v in ctx.request.headers.items()}


async def _viewable_asset(ctx: Ctx) -> dict[str, Any]:
    """The asset and its files if the caller may see it; a bare 404 otherwise."""
    assert ctx.auth is not None
    asset_id = UUID(str(ctx.path["id"]))
    if ctx.auth.shared_link is not None:
        raise NotFound()  # shared-link access to assets is not built yet
    async with ctx.db() as conn:
        if not await q.can_view(conn, asset_id, ctx.user.id, elevated=_elevated(ctx)):
            raise NotFound()
        row = await q.for_files(conn, asset_id)
    if row is None:
        raise NotFound()
    return row


def _stem(name: str) -> str:
    ext = media_types.extension(name)
    return name[: -len(ext)] if ext else name


def _pick_files(files: Sequence[Mapping[str, Any]], edited: bool) -> dict[str, str]:
    """Path per file type; with ``edited`` the edited rendering wins over the plain one."""
    out: dict[str, str] = {}
    for f in sorted(files, key=lambda f: bool(f["isEdited"])):
        if f["isEdited"] and not edited:
            continue
        out[f["type"]] = f["path"]
    return out


def _redirect(location: str) -> Response:
    body = f"Found. Redirecting to {location}".encode()
    return Response(body, status=302, headers={"Location": location}, content_type="text/plain; charset=utf-8")


def _query_pairs(ctx: Ctx) -> list[tuple[str, str]]:
    return parse_qsl(ctx.request.query_string.decode("latin-1"), keep_blank_values=True)


async def _send(ctx: Ctx, file: FileToSend) -> Response:
    return await send_file(_request_headers(ctx), file, head=ctx.request.method == "HEAD")


@operation("downloadAsset")
async def download_asset(ctx: Ctx) -> Response:
    asset = await _viewable_asset(ctx)
    edited = bool(ctx.query.get("edited"))
    path = asset["originalPath"]
    if edited:
        rendered = [f for f in asset["files"] if f["type"] == "fullsize" and f["isEdited"]]
        if rendered:
            path = rendered[0]["path"]
    return await _send(
        ctx,
        FileToSend(
            path=path,
            content_type=media_types.mime_type(path),
            file_name=_stem(asset["originalFileName"]) + media_types.extension(path),
        ),
    )


@operation("viewAsset")
async def view_asset(ctx: Ctx) -> Response:
    asset = await _viewable_asset(ctx)
    size = ctx.query.get("size") or "thumbnail"
    edited = bool(ctx.query.get("edited"))
    if size == "original":
        return _redirect("original?" + urlencode([p for p in _query_pairs(ctx) if p[0] != "size"]))
    files = _pick_files(asset["files"], edited)
    path = files.get("preview")
    if size == "thumbnail" and "thumbnail" in files:
        path = files["thumbnail"]
    elif size == "fullsize":
        web_original = media_types.has_flag(asset["originalPath"], "webSupported")
        if web_original and not (edited and asset["isEdited"]):
            return _redirect("original?" + urlencode([p for p in _query_pairs(ctx) if p[0] != "size"]))
        if "fullsize" not in files:
            return _redirect(ctx.request.path + "?" + urlencode(_with_size(_query_pairs(ctx), "preview")))
        path = files["fullsize"]
    if not path:
        raise NotFound(MEDIA_NOT_FOUND)
    return await _send(
        ctx,
        FileToSend(
            path=path,
            content_type=media_types.mime_type(path),
            file_name=f"{_stem(asset['originalFileName'])}_{size}{media_types.extension(path)}",
        ),
    )


def _with_size(pairs: list[tuple[str, str]], size: str) -> list[tuple[str, str]]:
    """``URLSearchParams.set``: replace the first ``size`` in place, drop the others."""
    out: list[tuple[str, str]] = []
    done = False
    for key, value in pairs:
        if key == "size":
            if not done:
                out.append((key, size))
                done = True
            continue
        out.append((key, value))
    if not done:
        out.append(("size", size))
    return out


@operation("playAssetVideo")
async def play_asset_video(ctx: Ctx) -> Response:
    asset = await _viewable_asset(ctx)
    if asset["type"] != "VIDEO":
        raise NotFound(NOT_A_VIDEO)
    encoded = _pick_files(asset["files"], False).get("encoded_video")
    path = encoded or asset["originalPath"]
    return await _send(ctx, FileToSend(path=path, content_type=media_types.mime_type(path)))
