"""AssetEditThumbnailGeneration on the thumbnailer: the ``_edited`` files show the edited pixels,
the asset takes the edited size, and removing the edits restores the unedited state."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import trio
from PIL import Image

from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from tests.actors.test_thumbnailer_actor import NOW, Sql, add_asset, apply
from tests.actors.test_thumbnailer_actor import actor as actor  # the fixture

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _quadrant_jpeg() -> bytes:
    """800x400, blue, with a red top-left quadrant."""
    image = Image.new("RGB", (800, 400), BLUE)
    image.paste(Image.new("RGB", (400, 200), RED), (0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


async def _render(worker: ThumbnailerActor, asset_id: str) -> JobResult:
    job = Job(id=1, queue="editor", name="AssetEditThumbnailGeneration", data={"id": asset_id},
              attempt=1, max_attempts=3, created_at=NOW)
    with trio.fail_after(30):
        result: JobResult = await worker.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


def _near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


def _edited_file(sql: Sql, asset_id: str, kind: str) -> Image.Image:
    [(path,)] = sql('SELECT path FROM asset_file WHERE "assetId" = %s AND type = %s AND "isEdited"', (asset_id, kind))
    assert "_edited" in path
    return Image.open(path).convert("RGB")


def _edit(sql: Sql, asset_id: str, edits: list[dict[str, Any]]) -> None:
    sql('DELETE FROM asset_edit WHERE "assetId" = %s', (asset_id,))
    for i, e in enumerate(edits):
        sql('INSERT INTO asset_edit ("assetId", action, parameters, sequence) VALUES (%s, %s, %s, %s)',
            (asset_id, e["action"], json.dumps(e["parameters"]), i))


async def test_rotate_crop_mirror_and_remove(actor: ThumbnailerActor, pool: Pool, sql: Sql, media: Path) -> None:
    [(owner,)] = sql("INSERT INTO \"user\" (email, name) VALUES ('e@x.com', 'E') RETURNING id::text")
    asset_id, _ = add_asset(sql, media, owner, _quadrant_jpeg())
    sql('INSERT INTO asset_exif ("assetId", "exifImageWidth", "exifImageHeight") VALUES (%s, 800, 400)', (asset_id,))
    sql("UPDATE asset SET width = 800, height = 400 WHERE id = %s", (asset_id,))

    # a quarter turn clockwise: portrait, and the red quadrant moves to the top right
    _edit(sql, asset_id, [{"action": "rotate", "parameters": {"angle": 90}}])
    result = await _render(actor, asset_id)
    assert result.status == "success", result.error
    await apply(pool, result)
    for kind in ("thumbnail", "preview", "fullsize"):
        image = _edited_file(sql, asset_id, kind)
        w, h = image.size
        assert h > w, kind
        assert _near(image.getpixel((w * 3 // 4, h // 4)), RED), kind
        assert _near(image.getpixel((w // 4, h // 4)), BLUE), kind
    assert sql("SELECT width, height FROM asset WHERE id = %s", (asset_id,)) == [(400, 800)]
    # the unedited thumbnail rows are untouched
    assert sql('SELECT count(*) FROM asset_file WHERE "assetId" = %s AND NOT "isEdited"', (asset_id,)) == [(0,)]

    # crop a centred square then mirror left-right: red moves to the top right, 1:1
    _edit(sql, asset_id, [{"action": "crop", "parameters": {"x": 200, "y": 0, "width": 400, "height": 400}},
                          {"action": "mirror", "parameters": {"axis": "horizontal"}}])
    await apply(pool, await _render(actor, asset_id))
    image = _edited_file(sql, asset_id, "fullsize")
    assert image.size == (400, 400)
    assert _near(image.getpixel((300, 100)), RED) and _near(image.getpixel((100, 100)), BLUE)
    assert _near(image.getpixel((300, 300)), BLUE)
    assert sql("SELECT width, height FROM asset WHERE id = %s", (asset_id,)) == [(400, 400)]
    [(path,)] = sql('SELECT path FROM asset_file WHERE "assetId" = %s AND type = %s AND "isEdited"',
                    (asset_id, "thumbnail"))

    # no edits left: the edited files and rows go, the size is the original's, thumbnails re-queued
    _edit(sql, asset_id, [])
    await apply(pool, await _render(actor, asset_id))
    assert sql('SELECT count(*) FROM asset_file WHERE "assetId" = %s AND "isEdited"', (asset_id,)) == [(0,)]
    assert not await trio.Path(path).exists()
    assert sql("SELECT width, height FROM asset WHERE id = %s", (asset_id,)) == [(800, 400)]
    jobs = sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'AssetGenerateThumbnails'")
    assert jobs == [(asset_id,)]
