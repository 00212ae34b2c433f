"""Which OCR boxes an edit's crop keeps, decided when the edited renditions are written.

As Immich's media service after ``AssetEditThumbnailGeneration`` (``checkOcrVisibility`` then
``updateOcrVisibilities``): each box's bounding rectangle (normalised, over the unedited
image as displayed) is scaled to the displayed size and compared with the crop rectangle in
the same pixels; a box half or more inside stays visible, the rest are hidden. Without a crop
every box is visible again. Hidden boxes leave ``GET /assets/{id}/ocr`` and the search text,
which is rebuilt, tokenised, from the visible ones. (Immich without a crop rebuilds it from
only the boxes that were hidden until then, dropping the text of those that never were; here
the search text is that of every visible box, so removing a crop restores it whole.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql import ocr as q

Rect = tuple[float, float, float, float]  # left, top, right, bottom
VISIBLE_SHARE = 0.5


def crop_rect(edits: Sequence[Mapping[str, Any]]) -> Rect | None:
    """The first crop of the edit list, in pixels of the unedited image as displayed."""
    for edit in edits:
        if edit.get("action") == "crop":
            p = edit["parameters"]
            x, y = float(p["x"]), float(p["y"])
            return x, y, x + float(p["width"]), y + float(p["height"])
    return None


def share_inside(box: Rect, crop: Rect) -> float:
    """The part of ``box``'s area inside ``crop`` (Immich's ``boundingBoxOverlap``)."""
    width = max(0.0, min(box[2], crop[2]) - max(box[0], crop[0]))
    height = max(0.0, min(box[3], crop[3]) - max(box[1], crop[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return width * height / area if area > 0 else 0.0


def box_rect(box: Mapping[str, Any], width: float, height: float) -> Rect:
    xs = [float(box[f"x{i}"]) for i in range(1, 5)]
    ys = [float(box[f"y{i}"]) for i in range(1, 5)]
    return min(xs) * width, min(ys) * height, max(xs) * width, max(ys) * height


def visible_after(
    boxes: Sequence[Mapping[str, Any]], size: tuple[int, int], crop: Rect | None
) -> list[bool]:
    """For each box, whether it is visible on the edited image."""
    if crop is None:
        return [True] * len(boxes)
    return [share_inside(box_rect(box, *size), crop) >= VISIBLE_SHARE for box in boxes]


async def update_ocr_visibility(
    conn: AsyncConnection[Any],
    asset_id: str,
    *,
    edits: Sequence[Mapping[str, Any]],
    size: tuple[int | None, int | None],
) -> None:
    """Mark the asset's OCR boxes visible or hidden for ``edits`` and rebuild its search text;
    ``size`` is the unedited image's displayed size (a crop on an unknown size changes nothing)."""
    crop = crop_rect(edits)
    width, height = size
    if crop is not None and not (width and height):
        return
    boxes = await q.all_boxes(conn, asset_id)
    if not boxes:
        return
    flags = visible_after(boxes, (width or 0, height or 0), crop)
    if all(bool(b["isVisible"]) == f for b, f in zip(boxes, flags, strict=True)):
        return
    await q.set_visibility(
        conn,
        asset_id,
        visible=[str(b["id"]) for b, f in zip(boxes, flags, strict=True) if f],
        hidden=[str(b["id"]) for b, f in zip(boxes, flags, strict=True) if not f],
        texts=[str(b["text"]) for b, f in zip(boxes, flags, strict=True) if f],
    )
