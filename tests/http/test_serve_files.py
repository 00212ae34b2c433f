"""GET /api/assets/{id}/original, /thumbnail and /video/playback: bytes, headers, 304/206/416, refusals."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

Sql = Callable[..., list[tuple[Any, ...]]]
CACHE = "private, max-age=86400, no-transform, stale-while-revalidate=2592000, stale-if-error=2592000"
MTIME_NS = 1_700_000_000_123_456_789


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    return str(path)


def insert_asset(
    sql: Sql,
    owner: str,
    original: str,
    *,
    name: str = "Été photo.jpg",
    type: str = "IMAGE",
    visibility: str = "timeline",
    files: dict[str, str] | None = None,
) -> str:
    when = datetime(2024, 1, 15, tzinfo=UTC)
    rows = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", visibility)'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'sha1', %s, %s) RETURNING id",
        (owner, type, original, when, when, when, os.urandom(20), name, visibility),
    )
    asset_id = str(rows[0][0])
    for kind, path in (files or {}).items():
        sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (asset_id, kind, path))
    return asset_id


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "files"


async def test_original_with_headers(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    # Several chunks, but fewer than 10: Quart's test client buffers 10 body messages and
    # reads them only once the app is done, so a longer stream would block it (not a server).
    data = os.urandom(1024 * 1024 + 17)
    asset_id = insert_asset(sql, user.id, write(media / "a.jpg", data))
    response = await client.get(f"/api/assets/{asset_id}/original", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_data() == data
    h = response.headers
    assert h["Content-Type"] == "image/jpeg"
    assert h["Content-Disposition"] == "inline; filename*=UTF-8''%C3%89t%C3%A9%20photo.jpg"
    assert h["Cache-Control"] == CACHE
    assert h["Accept-Ranges"] == "bytes"
    assert h["X-Content-Type-Options"] == "nosniff"  # issue 7: HTML named .jpg is not rendered
    assert h["ETag"] == f'W/"{len(data):x}-{MTIME_NS // 1_000_000:x}"'
    assert h["Last-Modified"] == format_datetime(
        datetime.fromtimestamp(MTIME_NS // 10**9, tz=UTC), usegmt=True
    )
    assert h["Content-Length"] == str(len(data))


async def test_conditional_requests(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    asset_id = insert_asset(sql, user.id, write(media / "a.jpg", b"x" * 100))
    url = f"/api/assets/{asset_id}/original"
    first = await client.get(url, headers=user.headers)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]

    response = await client.get(url, headers={**user.headers, "If-None-Match": etag})
    assert response.status_code == 304
    assert await response.get_data() == b""
    assert response.headers["ETag"] == etag
    assert "Content-Type" not in response.headers or not response.headers["Content-Type"].startswith("image/")

    response = await client.get(url, headers={**user.headers, "If-Modified-Since": modified})
    assert response.status_code == 304
    response = await client.get(url, headers={**user.headers, "If-None-Match": 'W/"other"'})
    assert response.status_code == 200
    response = await client.get(
        url, headers={**user.headers, "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert response.status_code == 200


async def test_ranges(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    data = bytes(range(256)) * 4
    asset_id = insert_asset(sql, user.id, write(media / "a.jpg", data))
    url = f"/api/assets/{asset_id}/original"

    async def get(range_header: str, **extra: str) -> Any:
        return await client.get(url, headers={**user.headers, "Range": range_header, **extra})

    response = await get("bytes=10-19")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert response.headers["Content-Length"] == "10"
    assert await response.get_data() == data[10:20]

    response = await get("bytes=-5")
    assert response.headers["Content-Range"] == f"bytes {len(data) - 5}-{len(data) - 1}/{len(data)}"
    assert await response.get_data() == data[-5:]

    response = await get("bytes=1000-")
    assert await response.get_data() == data[1000:]

    response = await get("bytes=5000-6000")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"

    # Several ranges are answered with the whole file, as `send` does.
    response = await get("bytes=0-1,10-11")
    assert response.status_code == 200 and await response.get_data() == data

    # If-Range with a stale validator: the whole file.
    response = await get("bytes=0-9", **{"If-Range": 'W/"stale"'})
    assert response.status_code == 200


async def test_other_users_and_missing_files(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    partner = await make_user("partner@example.com")
    stranger = await make_user("stranger@example.com")
    asset_id = insert_asset(sql, user.id, write(media / "a.jpg", b"abc"))
    locked = insert_asset(sql, user.id, write(media / "l.jpg", b"abc"), visibility="locked")
    gone = insert_asset(sql, user.id, str(media / "missing.jpg"))

    # File endpoints answer every failure, a refusal included, with a bare 404 (behaviour.md §2).
    for path in (f"/api/assets/{asset_id}/original", f"/api/assets/{asset_id}/thumbnail"):
        response = await client.get(path, headers=stranger.headers)
        assert (response.status_code, await response.get_json()) == (404, {"message": "Not Found"})
    response = await client.get(f"/api/assets/{gone}/original", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (404, {"message": "Not Found"})
    response = await client.get(f"/api/assets/{locked}/original", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (404, {"message": "Not Found"})

    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (user.id, partner.id))
    response = await client.get(f"/api/assets/{asset_id}/original", headers=partner.headers)
    assert response.status_code == 200 and await response.get_data() == b"abc"
    response = await client.get(f"/api/assets/{locked}/original", headers=partner.headers)
    assert (response.status_code, await response.get_json()) == (404, {"message": "Not Found"})


async def test_thumbnail_sizes_and_redirects(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    thumb = write(media / "t_thumbnail.webp", b"THUMB")
    preview = write(media / "t_preview.jpeg", b"PREVIEW")
    jpg = insert_asset(
        sql, user.id, write(media / "o.jpg", b"ORIG"), files={"thumbnail": thumb, "preview": preview}
    )
    heic = insert_asset(
        sql, user.id, write(media / "o.heic", b"HEIC"), name="IMG_1.HEIC",
        files={"thumbnail": thumb, "preview": preview},
    )
    base = f"/api/assets/{jpg}/thumbnail"

    response = await client.get(base, headers=user.headers)
    assert response.status_code == 200 and await response.get_data() == b"THUMB"
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Content-Disposition"] == (
        "inline; filename*=UTF-8''%C3%89t%C3%A9%20photo_thumbnail.webp"
    )
    assert response.headers["Cache-Control"] == CACHE

    response = await client.get(base, headers=user.headers, query_string={"size": "preview"})
    assert await response.get_data() == b"PREVIEW"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"].endswith("photo_preview.jpeg")

    response = await client.get(f"{base}?c=abc&size=original", headers=user.headers)
    assert (response.status_code, response.headers["Location"]) == (302, "original?c=abc")
    response = await client.get(f"{base}?size=fullsize&c=abc", headers=user.headers)
    assert (response.status_code, response.headers["Location"]) == (302, "original?c=abc")

    # Not web-displayable and no fullsize file: downgraded to the preview.
    response = await client.get(f"/api/assets/{heic}/thumbnail?size=fullsize&c=x", headers=user.headers)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/api/assets/{heic}/thumbnail?size=preview&c=x"

    full = write(media / "t_fullsize.jpeg", b"FULL")
    sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (heic, "fullsize", full))
    response = await client.get(f"/api/assets/{heic}/thumbnail?size=fullsize", headers=user.headers)
    assert response.status_code == 200 and await response.get_data() == b"FULL"
    assert response.headers["Content-Disposition"] == "inline; filename*=UTF-8''IMG_1_fullsize.jpeg"

    bare = insert_asset(sql, user.id, write(media / "b.jpg", b"B"))
    response = await client.get(f"/api/assets/{bare}/thumbnail", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (404, {"message": "Asset media not found"})

    # No thumbnail file: the preview is served under the requested size's name.
    only_preview = insert_asset(sql, user.id, write(media / "p.jpg", b"P"), files={"preview": preview})
    response = await client.get(f"/api/assets/{only_preview}/thumbnail", headers=user.headers)
    assert await response.get_data() == b"PREVIEW"
    assert response.headers["Content-Disposition"].endswith("photo_thumbnail.jpeg")


async def test_video_playback(client: Any, make_user: Any, sql: Sql, media: Path) -> None:
    user = await make_user()
    original = write(media / "v.mov", b"MOV")
    video = insert_asset(sql, user.id, original, name="clip.mov", type="VIDEO")
    response = await client.get(f"/api/assets/{video}/video/playback", headers=user.headers)
    assert (response.status_code, await response.get_data()) == (200, b"MOV")
    assert response.headers["Content-Type"] == "video/quicktime"
    assert "Content-Disposition" not in response.headers

    encoded = write(media / "v.mp4", b"MP4")
    sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (video, "encoded_video", encoded))
    response = await client.get(f"/api/assets/{video}/video/playback", headers=user.headers)
    assert await response.get_data() == b"MP4"
    assert response.headers["Content-Type"] == "video/mp4"

    image = insert_asset(sql, user.id, write(media / "i.jpg", b"I"))
    response = await client.get(f"/api/assets/{image}/video/playback", headers=user.headers)
    assert response.status_code == 404
