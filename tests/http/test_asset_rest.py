"""The rest of the Assets tag: copyAsset, runAssetJobs, asset edits (rows, validation, the
render job) and OCR boxes (as stored, and moved by the edits)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.runtime import Runtime
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def _jobs(sql: Sql, name: str) -> list[Any]:
    return [data["id"] for (data,) in sql("SELECT data FROM immich_trio.job WHERE name = %s ORDER BY id", (name,))]


def _image(sql: Sql, owner: str, media: Path, name: str, width: int = 400, height: int = 200) -> str:
    asset_id = _asset(sql, owner, media, name, "IMAGE")
    sql('UPDATE asset_exif SET "exifImageWidth" = %s, "exifImageHeight" = %s WHERE "assetId" = %s',
        (width, height, asset_id))
    return asset_id


async def test_copy_albums_links_stack_favorite_sidecar(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    source, target, other = (_image(sql, alex.id, media, f"c{i}.jpg") for i in range(3))
    [(album,)] = sql("INSERT INTO album (\"albumName\") VALUES ('A') RETURNING id::text")
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, source))
    [(link,)] = sql('INSERT INTO shared_link ("userId", key, type) VALUES (%s, %s, %s) RETURNING id::text',
                    (alex.id, b"k" * 20, "INDIVIDUAL"))
    sql('INSERT INTO shared_link_asset ("sharedLinkId", "assetId") VALUES (%s, %s)', (link, source))
    [(stack,)] = sql('INSERT INTO stack ("ownerId", "primaryAssetId") VALUES (%s, %s) RETURNING id::text',
                     (alex.id, source))
    sql('UPDATE asset SET "stackId" = %s WHERE id = ANY(%s::uuid[])', (stack, [source, other]))
    sql('UPDATE asset SET "isFavorite" = true WHERE id = %s', (source,))
    sidecar = media / "upload" / "c0.jpg.xmp"
    sidecar.write_bytes(b"<x:xmpmeta>source</x:xmpmeta>")
    sql("INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'sidecar', %s)", (source, str(sidecar)))

    response = await client.put("/api/assets/copy", headers=alex.headers, json={"sourceId": source, "targetId": target})
    assert response.status_code == 204, await response.get_json()
    assert sql('SELECT "albumId"::text FROM album_asset WHERE "assetId" = %s', (target,)) == [(album,)]
    assert sql('SELECT "sharedLinkId"::text FROM shared_link_asset WHERE "assetId" = %s', (target,)) == [(link,)]
    assert sql('SELECT "stackId"::text, "isFavorite" FROM asset WHERE id = %s', (target,)) == [(stack, True)]
    [(original,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (target,))
    copied = Path(f"{original}.xmp")
    assert await trio.Path(copied).read_bytes() == b"<x:xmpmeta>source</x:xmpmeta>"
    assert sql("SELECT path FROM asset_file WHERE \"assetId\" = %s AND type = 'sidecar'", (target,)) == [(str(copied),)]
    assert _jobs(sql, "AssetExtractMetadata") == [target]

    # flags off: nothing is copied
    sql('UPDATE asset SET "isFavorite" = false WHERE id = %s', (other,))
    off = {"albums": False, "sharedLinks": False, "stack": False, "favorite": False, "sidecar": False}
    fresh = _image(sql, alex.id, media, "c3.jpg")
    response = await client.put("/api/assets/copy", headers=alex.headers,
                                json={"sourceId": source, "targetId": fresh, **off})
    assert response.status_code == 204
    assert sql('SELECT count(*) FROM album_asset WHERE "assetId" = %s', (fresh,)) == [(0,)]
    assert sql('SELECT "stackId", "isFavorite" FROM asset WHERE id = %s', (fresh,)) == [(None, False)]


async def test_copy_errors(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    mine = _image(sql, alex.id, media, "m.jpg")
    theirs = _image(sql, bo.id, media, "t.jpg")
    cases = [
        ({"sourceId": mine, "targetId": mine}, "Source and target id must be distinct"),
        ({"sourceId": mine, "targetId": theirs}, "Not found or no asset.copy access"),
        ({"sourceId": MISSING_ID, "targetId": mine}, "Not found or no asset.copy access"),
    ]
    for body, message in cases:
        response = await client.put("/api/assets/copy", headers=alex.headers, json=body)
        assert response.status_code == 400
        assert (await response.get_json())["message"] == message
    response = await client.put("/api/assets/copy", headers=alex.headers, json={"sourceId": mine})
    assert response.status_code == 400 and (await response.get_json())["message"] == "Validation failed"


@pytest.mark.parametrize(
    ("name", "job"),
    [("refresh-metadata", "AssetExtractMetadata"), ("regenerate-thumbnail", "AssetGenerateThumbnails"),
     ("refresh-faces", None), ("transcode-video", "AssetEncodeVideo")],
)
async def test_run_asset_jobs(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, name: str, job: str | None
) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    ids = [_image(sql, alex.id, media, f"j{i}.jpg") for i in range(2)]
    theirs = _image(sql, bo.id, media, "t.jpg")
    before = sql("SELECT count(*) FROM immich_trio.job")
    response = await client.post("/api/assets/jobs", headers=alex.headers, json={"assetIds": [*ids, theirs], "name": name})
    assert (response.status_code, (await response.get_json())["message"]) == (400, "Not found or no asset.update access")
    assert sql("SELECT count(*) FROM immich_trio.job") == before
    response = await client.post("/api/assets/jobs", headers=alex.headers, json={"assetIds": ids, "name": name})
    assert response.status_code == 204
    if job is None:
        assert sql("SELECT count(*) FROM immich_trio.job") == before
    else:
        assert _jobs(sql, job) == ids
    response = await client.post("/api/assets/jobs", headers=alex.headers, json={"assetIds": ids, "name": "nope"})
    assert response.status_code == 400


async def test_edits_store_validate_and_remove(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    photo = _image(sql, alex.id, media, "e.jpg", 400, 200)
    url = f"/api/assets/{photo}/edits"
    response = await client.get(url, headers=alex.headers)
    assert await response.get_json() == {"assetId": photo, "edits": []}

    edits = [
        {"action": "crop", "parameters": {"x": 10, "y": 20, "width": 200, "height": 100}},
        {"action": "rotate", "parameters": {"angle": 90}},
        {"action": "mirror", "parameters": {"axis": "horizontal"}},
    ]
    response = await client.put(url, headers=alex.headers, json={"edits": edits})
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["assetId"] == photo
    assert [{k: e[k] for k in ("action", "parameters")} for e in body["edits"]] == edits
    assert all(len(e["id"]) == 36 for e in body["edits"])
    assert sql('SELECT "isEdited" FROM asset WHERE id = %s', (photo,)) == [(True,)]
    assert _jobs(sql, "AssetEditThumbnailGeneration") == [photo]
    response = await client.get(url, headers=alex.headers)
    assert await response.get_json() == body

    refused = [
        ([{"action": "rotate", "parameters": {"angle": 45}}], "Validation failed"),
        ([{"action": "rotate", "parameters": {"angle": 90}}, {"action": "rotate", "parameters": {"angle": 90}}],
         "Validation failed"),
        ([], "Validation failed"),
        ([{"action": "rotate", "parameters": {"angle": 90}},
          {"action": "crop", "parameters": {"x": 0, "y": 0, "width": 10, "height": 10}}],
         "Crop action must be the first edit action"),
        ([{"action": "crop", "parameters": {"x": 300, "y": 0, "width": 101, "height": 10}}],
         "Crop parameters are out of bounds"),
    ]
    for bad, message in refused:
        response = await client.put(url, headers=alex.headers, json={"edits": bad})
        assert response.status_code == 400, bad
        assert (await response.get_json())["message"] == message
    assert len(sql('SELECT id FROM asset_edit WHERE "assetId" = %s', (photo,))) == 3

    video = _asset(sql, alex.id, media, "v.mp4", "VIDEO")
    response = await client.put(f"/api/assets/{video}/edits", headers=alex.headers, json={"edits": edits[1:]})
    assert (await response.get_json())["message"] == "Only images can be edited"
    gif = _image(sql, alex.id, media, "g.gif")
    response = await client.put(f"/api/assets/{gif}/edits", headers=alex.headers, json={"edits": edits[1:]})
    assert (await response.get_json())["message"] == "Editing GIF images is not supported"

    response = await client.delete(url, headers=alex.headers)
    assert response.status_code == 204
    assert sql('SELECT "isEdited" FROM asset WHERE id = %s', (photo,)) == [(False,)]
    assert sql('SELECT count(*) FROM asset_edit WHERE "assetId" = %s', (photo,)) == [(0,)]
    assert _jobs(sql, "AssetEditThumbnailGeneration") == [photo, photo]


async def test_ocr_boxes(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    photo = _image(sql, alex.id, media, "o.jpg", 400, 200)
    url = f"/api/assets/{photo}/ocr"
    response = await client.get(url, headers=alex.headers)
    assert response.status_code == 200 and await response.get_json() == []
    [(box,)] = sql(
        'INSERT INTO asset_ocr ("assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text)'
        " VALUES (%s, 0.25, 0.5, 0.5, 0.5, 0.5, 0.75, 0.25, 0.75, 0.875, 0.75, 'Hello') RETURNING id::text",
        (photo,),
    )
    sql('INSERT INTO asset_ocr ("assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text, "isVisible")'
        " VALUES (%s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'hidden', false)", (photo,))
    response = await client.get(url, headers=alex.headers)
    assert await response.get_json() == [{
        "id": box, "assetId": photo, "x1": 0.25, "y1": 0.5, "x2": 0.5, "y2": 0.5, "x3": 0.5, "y3": 0.75,
        "x4": 0.25, "y4": 0.75, "boxScore": 0.875, "textScore": 0.75, "text": "Hello",
    }]
    # rotated a quarter turn clockwise: the 400x200 image becomes 200x400 and the box's
    # top-left corner is the old bottom-left one
    sql("INSERT INTO asset_edit (\"assetId\", action, parameters, sequence) VALUES (%s, 'rotate', '{\"angle\": 90}', 0)",
        (photo,))
    [got] = await (await client.get(url, headers=alex.headers)).get_json()
    corners = [(got[f"x{i}"], got[f"y{i}"]) for i in range(1, 5)]
    assert corners == [(0.25, 0.25), (0.5, 0.25), (0.5, 0.5), (0.25, 0.5)]
