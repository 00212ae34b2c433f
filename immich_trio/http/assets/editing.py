"""Non-destructive edits of an image (``getAssetEdits``, ``editAsset``, ``removeAssetEdits``)
and its OCR boxes as seen on the edited image (``getAssetOcr``).

An edit replaces the asset's ``asset_edit`` rows and queues ``AssetEditThumbnailGeneration``,
which renders the ``_edited`` preview, thumbnail and fullsize and sets the asset's size; removing
the edits queues the same job, which then deletes the edited files and restores the size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio import editing
from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.errors import BadRequest, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.assets import asset_edits as q

ROTATED_ORIENTATIONS = frozenset({"5", "6", "7", "8"})
UNEDITABLE_SUFFIXES = ((".gif", "Editing GIF images is not supported"),
                       (".svg", "Editing SVG images is not supported"))


def display_size(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """The unedited image's size as displayed (EXIF size, sides swapped for quarter turns)."""
    width, height = row.get("exifImageWidth"), row.get("exifImageHeight")
    if not width or not height:
        return None
    if str(row.get("orientation") or "") in ROTATED_ORIENTATIONS:
        return int(height), int(width)
    return int(width), int(height)


def _edits_body(asset_id: UUID, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "assetId": str(asset_id),
        "edits": [
            {"id": str(r["id"]), "action": r["action"], "parameters": r["parameters"]} for r in rows
        ],
    }


async def _queue_render(conn: Any, asset_id: UUID) -> None:
    await jobs_q.enqueue_job(conn, JobName.ASSET_EDIT_THUMBNAIL_GENERATION, {"id": str(asset_id)})


@operation("getAssetEdits")
async def get_asset_edits(ctx: Ctx) -> dict[str, Any]:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        rows = await q.edits(conn, asset_id)
    return _edits_body(asset_id, rows)


def _check_editable(asset: Mapping[str, Any], new_edits: list[dict[str, Any]]) -> None:
    """Immich's refusals, in its order."""
    if asset["type"] != "IMAGE":
        raise BadRequest("Only images can be edited")
    if asset["livePhotoVideoId"] is not None:
        raise BadRequest("Editing live photos is not supported")
    if (asset["projectionType"] or "").upper() == "EQUIRECTANGULAR":
        raise BadRequest("Editing panorama images is not supported")
    path = str(asset["originalPath"] or "").lower()
    for suffix, message in UNEDITABLE_SUFFIXES:
        if path.endswith(suffix):
            raise BadRequest(message)
    size = display_size(asset)
    if size is None:
        raise BadRequest("Asset dimensions are not available for editing")
    crop = next((e for e in new_edits if e["action"] == "crop"), None)
    if crop is not None:
        if new_edits[0]["action"] != "crop":
            raise BadRequest("Crop action must be the first edit action")
        p = crop["parameters"]
        if p["x"] + p["width"] > size[0] or p["y"] + p["height"] > size[1]:
            raise BadRequest("Crop parameters are out of bounds")


@operation("editAsset")
async def edit_asset(ctx: Ctx) -> dict[str, Any]:
    asset_id = UUID(str(ctx.path["id"]))
    body = await ctx.json()
    new_edits, issues = editing.check_edits(body.get("edits") if isinstance(body, Mapping) else None)
    if issues:
        raise ValidationFailed(issues)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.edit.create", [asset_id])
        asset = await q.asset_for_edit(conn, asset_id)
        if asset is None:
            raise BadRequest("Asset not found")
        _check_editable(asset, new_edits)
        rows = await q.replace_edits(conn, asset_id, new_edits)
        await _queue_render(conn, asset_id)
    return _edits_body(asset_id, rows)


@operation("removeAssetEdits")
async def remove_asset_edits(ctx: Ctx) -> None:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.edit.delete", [asset_id])
        if await q.asset_for_edit(conn, asset_id) is None:
            raise BadRequest("Asset not found")
        await q.replace_edits(conn, asset_id, [])
        await _queue_render(conn, asset_id)


@operation("getAssetOcr")
async def get_asset_ocr(ctx: Ctx) -> list[dict[str, Any]]:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        boxes = await q.ocr_boxes(conn, asset_id)
        asset = await q.asset_for_edit(conn, asset_id)
        if asset is None:
            raise BadRequest("Asset not found")
        edits = await q.edits(conn, asset_id) if boxes else []
    size = display_size(asset)
    out = []
    for box in boxes:
        if edits and size is not None:
            box = editing.transform_ocr_box(box, edits, *size)
        out.append({
            "id": str(box["id"]), "assetId": str(box["assetId"]),
            **{k: float(box[k]) for k in ("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4")},
            "boxScore": float(box["boxScore"]), "textScore": float(box["textScore"]), "text": box["text"],
        })
    return out
