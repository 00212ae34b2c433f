"""OCR boxes and an edit's crop: the edit render hides the boxes mostly outside the crop and
takes their words out of the search text; removing the crop shows them all again."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.actors.thumbnailer.ocr_visibility import crop_rect, share_inside, visible_after
from immich_trio.sql.pool import Pool
from tests.actors.test_edit_render import _render
from tests.actors.test_thumbnailer_actor import Sql, add_asset, apply
from tests.actors.test_thumbnailer_actor import actor as actor  # the fixture


def _box(left: float, top: float, right: float, bottom: float) -> dict[str, float]:
    return {"x1": left, "y1": top, "x2": right, "y2": top, "x3": right, "y3": bottom, "x4": left, "y4": bottom}


def test_a_box_half_inside_the_crop_stays_visible() -> None:
    crop = crop_rect([{"action": "crop", "parameters": {"x": 0, "y": 0, "width": 500, "height": 500}},
                      {"action": "rotate", "parameters": {"angle": 90}}])
    assert crop == (0, 0, 500, 500)
    boxes = [
        _box(0.1, 0.1, 0.2, 0.2),  # inside
        _box(0.8, 0.8, 0.9, 0.9),  # outside
        _box(0.375, 0.1, 0.625, 0.2),  # half inside: kept, as Immich keeps 50 %
        _box(0.44, 0.1, 0.54, 0.2),  # 60 % inside
        _box(0.46, 0.1, 0.56, 0.2),  # 40 % inside
    ]
    assert visible_after(boxes, (1000, 1000), crop) == [True, False, True, True, False]
    assert visible_after(boxes, (1000, 1000), None) == [True] * 5
    assert visible_after([], (1000, 1000), crop) == []
    # the boxes are fractions of the displayed size: on a 2000 px wide image the first is outside
    assert visible_after([_box(0.3, 0.1, 0.4, 0.2)], (2000, 1000), crop) == [False]
    assert share_inside((10, 10, 10, 20), (0, 0, 100, 100)) == 0.0  # a box without area
    assert crop_rect([{"action": "mirror", "parameters": {"axis": "horizontal"}}]) is None


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "JPEG")
    return out.getvalue()


def _edit(sql: Sql, asset_id: str, crop: dict[str, int] | None) -> None:
    sql('DELETE FROM asset_edit WHERE "assetId" = %s', (asset_id,))
    if crop is not None:
        sql("""INSERT INTO asset_edit ("assetId", action, parameters, sequence) VALUES (%s, 'crop', %s, 0)""",
            (asset_id, json.dumps(crop)))


async def test_the_edit_render_hides_what_the_crop_cut(actor: ThumbnailerActor, pool: Pool, sql: Sql,
                                                        media: Path) -> None:
    [(owner,)] = sql("INSERT INTO \"user\" (email, name) VALUES ('e@x.com', 'E') RETURNING id::text")
    asset_id, _ = add_asset(sql, media, owner, _jpeg(800, 400))
    sql('INSERT INTO asset_exif ("assetId", "exifImageWidth", "exifImageHeight") VALUES (%s, 800, 400)', (asset_id,))
    for text, (left, right) in (("LEFT side", (0.05, 0.3)), ("東京タワー", (0.6, 0.9)), ("middle", (0.375, 0.625))):
        sql('INSERT INTO asset_ocr ("assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text)'
            " VALUES (%s, %s, 0.1, %s, 0.1, %s, 0.2, %s, 0.2, 0.9, 0.9, %s)",
            (asset_id, left, right, right, left, text))
    sql("""INSERT INTO ocr_search ("assetId", text) VALUES (%s, 'LEFT side 東京 京タ タワ ワー middle')""", (asset_id,))

    def seen() -> tuple[list[tuple[str, bool]], str]:
        boxes = sql('SELECT text, "isVisible" FROM asset_ocr WHERE "assetId" = %s ORDER BY x1', (asset_id,))
        [(search,)] = sql('SELECT text FROM ocr_search WHERE "assetId" = %s', (asset_id,))
        return [(str(t), bool(v)) for t, v in boxes], str(search)

    # the left half: the right text goes, "middle" is exactly half inside and stays
    _edit(sql, asset_id, {"x": 0, "y": 0, "width": 400, "height": 400})
    result = await _render(actor, asset_id)
    assert result.status == "success", result.error
    await apply(pool, result)
    assert seen() == ([("LEFT side", True), ("middle", True), ("東京タワー", False)], "LEFT side middle")

    # the right third: only the CJK text, its search tokens as when it was read
    _edit(sql, asset_id, {"x": 520, "y": 0, "width": 280, "height": 400})
    await apply(pool, await _render(actor, asset_id))
    assert seen() == ([("LEFT side", False), ("middle", False), ("東京タワー", True)], "東京 京タ タワ ワー")

    # the edits removed: every box visible, every word searchable again
    _edit(sql, asset_id, None)
    await apply(pool, await _render(actor, asset_id))
    assert seen() == ([("LEFT side", True), ("middle", True), ("東京タワー", True)],
                      "LEFT side middle 東京 京タ タワ ワー")
