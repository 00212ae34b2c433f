"""``AssetEditThumbnailGeneration``: the ``_edited`` preview, thumbnail and fullsize of an image
with its ``asset_edit`` list applied (crop, then quarter turns clockwise and mirrors, in order),
or, once the edits are removed, the edited files gone and the unedited size restored; either
way the OCR boxes outside the crop are hidden and the others shown (``ocr_visibility.py``), and
the owner's clients hear ``AssetEditReadyV2`` on commit.

Run by the thumbnailer actor; the rendering is a pure function of the original and the edit
list (``render_edited``, run in a codec worker process), the files are written by the actor and
the database writes happen in the dispatcher's apply transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import trio
from PIL import Image
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.jobs.names import JobName
from immich_trio.sql import events, pipeline
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.assets import asset_edits as q
from immich_trio.storage import files

from .codecs import Edit, render_image_thumbnails
from .ocr_visibility import update_ocr_visibility
from .options import Rendered, ThumbnailOptions, ThumbnailResult

log = logging.getLogger(__name__)
Conn = AsyncConnection[Any]

_ROTATIONS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
_MIRRORS = {"horizontal": Image.Transpose.FLIP_LEFT_RIGHT, "vertical": Image.Transpose.FLIP_TOP_BOTTOM}
ROTATED_ORIENTATIONS = frozenset({"5", "6", "7", "8"})
EDIT_READY_EVENT = "AssetEditReadyV2"


def pixel_edit(edits: Sequence[Mapping[str, Any]]) -> Edit:
    """The edit list as one transformation of the oriented image (PIL turns counter-clockwise,
    Immich clockwise: 90° is PIL's ROTATE_270)."""

    def apply(image: Image.Image) -> Image.Image:
        for edit in edits:
            p = edit["parameters"]
            match edit["action"]:
                case "crop":
                    image = image.crop((p["x"], p["y"], p["x"] + p["width"], p["y"] + p["height"]))
                case "rotate" if p["angle"] in _ROTATIONS:
                    image = image.transpose(_ROTATIONS[p["angle"]])
                case "mirror":
                    image = image.transpose(_MIRRORS[p["axis"]])
        return image

    return apply


def render_edited(
    source: Path, edits: Sequence[Mapping[str, Any]], media: Path, owner_id: str, asset_id: str,
    options: ThumbnailOptions,
) -> Rendered:
    """The ``_edited`` files, encoded, not written (a codec worker's job)."""

    def path(kind: str, fmt: str) -> Path:
        return files.thumbnail_path(media, owner_id, asset_id, kind, fmt, edited=True)

    return render_image_thumbnails(
        source,
        preview_path=path("preview", options.preview.format),
        thumbnail_path=path("thumbnail", options.thumbnail.format),
        fullsize_path=path("fullsize", options.fullsize.format),
        options=options,
        edit=pixel_edit(edits),
    )


def unedited_size(asset: Mapping[str, Any]) -> tuple[int | None, int | None]:
    width, height = asset.get("exifImageWidth"), asset.get("exifImageHeight")
    if str(asset.get("orientation") or "") in ROTATED_ORIENTATIONS:
        return height, width
    return width, height


async def apply_rendered(
    conn: AsyncConnection[Any], *, asset_id: str, result: ThumbnailResult, options: ThumbnailOptions
) -> bool:
    """Record the edited files, size and thumbhash; False when the asset is gone."""
    if not await pipeline.lock_asset(conn, asset_id):
        return False
    outputs = (
        ("preview", result.preview_path, options.preview.format, options.preview.progressive),
        ("thumbnail", result.thumbnail_path, options.thumbnail.format, options.thumbnail.progressive),
        ("fullsize", result.fullsize_path, options.fullsize.format, options.fullsize.progressive),
    )
    for kind, path, fmt, progressive in outputs:
        if path is None:
            continue
        await q.upsert_edited_file(
            conn, asset_id, kind, str(path),
            is_progressive=progressive and fmt == "jpeg",
            is_transparent=result.is_transparent and fmt == "webp",
        )
    await q.delete_edited_files(conn, asset_id, keep=[k for k, p, _, _ in outputs if p is not None])
    await q.set_rendered(conn, asset_id, result.width, result.height, result.thumbhash)
    asset = await q.asset_for_edit(conn, asset_id)
    edits = await q.edits(conn, asset_id)
    await update_ocr_visibility(conn, asset_id, edits=edits, size=unedited_size(asset or {}))
    return True


async def apply_unedited(conn: AsyncConnection[Any], *, asset_id: str, asset: Mapping[str, Any]) -> bool:
    """No edits left: the edited files go, the size is the original's again, and the unedited
    thumbnails are rendered anew (which restores the thumbhash). False when the asset is gone."""
    if not await pipeline.lock_asset(conn, asset_id):
        return False
    stale = await q.delete_edited_files(conn, asset_id)
    width, height = unedited_size(asset)
    if width and height:
        await q.set_rendered(conn, asset_id, width, height, None)
    await update_ocr_visibility(conn, asset_id, edits=(), size=(width, height))
    await jobs_q.enqueue_job(conn, JobName.ASSET_GENERATE_THUMBNAILS, {"id": asset_id})
    for path in stale:
        await trio.to_thread.run_sync(files.remove_quietly, Path(path))
    return True


async def finish_edit_job(
    conn: AsyncConnection[Any], *, asset_id: str, owner_id: str, step: Callable[[Conn], Awaitable[bool]]
) -> None:
    """Apply the job's outcome and, as Immich's job service does once the job succeeded, tell
    the owner's clients (``AssetEditReadyV2``: the asset and its edits, loaded by the relay)."""
    if await step(conn):
        await events.publish(conn, owner_id, EDIT_READY_EVENT, asset_id)


async def run_edit_render(
    conn: AsyncConnection[Any], asset_id: str, *, media: Path, options_of: Any, run: Any
) -> JobResult:
    """Read what the render needs, render and write (``run``), answer with the apply."""
    asset = await pipeline.asset_for_thumbnails(conn, asset_id)
    if asset is None:
        return JobResult(status="failed", error="asset not found")
    edit_asset = await q.asset_for_edit(conn, asset_id)
    edits = await q.edits(conn, asset_id)
    options: ThumbnailOptions = await options_of(conn)
    owner_id = str(asset["ownerId"])
    if not edits or asset["type"] != "IMAGE":
        step = partial(apply_unedited, asset_id=asset_id, asset=edit_asset or {})
    else:
        render = partial(render_edited, Path(asset["originalPath"]), edits, media, owner_id, asset_id, options)
        result = await run(render)
        step = partial(apply_rendered, asset_id=asset_id, result=result, options=options)
    return JobResult(status="success", apply=partial(finish_edit_job, asset_id=asset_id, owner_id=owner_id, step=step))
