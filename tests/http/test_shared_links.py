"""The Shared links tag: the owner's links, their assets, the holder's view with password and
cookie, expiry, and the timeline a link grants (shapes and key order as Immich v3.1 answered)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.http.test_albums import MakeUser, Sql, insert_asset

# Immich v3.1's GET /shared-links (recorded): the keys of a link, of its album, of an asset.
LINK_KEYS = [
    "id", "description", "password", "userId", "key", "type", "createdAt", "expiresAt", "assets", "album",
    "allowUpload", "allowDownload", "showMetadata", "slug",
]
LISTED_ALBUM_KEYS = [
    "albumName", "description", "albumThumbnailAssetId", "createdAt", "updatedAt", "id", "albumUsers", "shared",
    "hasSharedLink", "assetCount", "isActivityEnabled", "order",
]
LISTED_ASSET_KEYS = [
    "id", "createdAt", "ownerId", "libraryId", "type", "originalPath", "originalFileName", "originalMimeType",
    "thumbhash", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt", "isFavorite", "isArchived",
    "isTrashed", "visibility", "duration", "livePhotoVideoId", "people", "checksum", "isOffline", "hasMetadata",
    "duplicateId", "resized", "width", "height", "isEdited",
]
WHEN = datetime(2024, 6, 1, 12, tzinfo=UTC)


def with_exif(sql: Sql, owner: str, when: datetime = WHEN) -> str:
    asset_id = insert_asset(sql, owner, when)
    sql('INSERT INTO asset_exif ("assetId", description) VALUES (%s, %s)', (asset_id, "exif"))
    return asset_id


async def album_of(client: Any, user: Any, assets: list[str]) -> str:
    r = await client.post("/api/albums", headers=user.headers, json={"albumName": "Summer", "assetIds": assets})
    assert r.status_code == 201
    return str((await r.get_json())["id"])


async def test_individual_link_create_list_get(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    photo = with_exif(sql, alex.id)
    r = await client.post("/api/shared-links", headers=alex.headers,
                          json={"type": "INDIVIDUAL", "assetIds": [photo, photo], "password": "secret"})
    assert r.status_code == 201
    body = await r.get_json()
    assert [k for k in body] == [k for k in LINK_KEYS if k != "album"]
    assert body["userId"] == alex.id and body["type"] == "INDIVIDUAL" and body["password"] == "secret"
    assert len(body["key"]) == 67 and "=" not in body["key"]
    assert base64.urlsafe_b64decode(body["key"] + "=") and body["slug"] is None
    assert (body["allowUpload"], body["allowDownload"], body["showMetadata"]) == (True, True, True)
    assert [a["id"] for a in body["assets"]] == [photo]
    assert list(body["assets"][0]) == LISTED_ASSET_KEYS
    assert body["assets"][0]["createdAt"].endswith("+00:00")

    r = await client.get("/api/shared-links", headers=alex.headers)
    [listed] = await r.get_json()
    assert listed["id"] == body["id"] and list(listed["assets"][0]) == LISTED_ASSET_KEYS

    r = await client.get(f"/api/shared-links/{body['id']}", headers=alex.headers)
    got = await r.get_json()
    assert r.status_code == 200 and got["assets"][0]["exifInfo"]["description"] == "exif"

    other = await make_user("other@example.com")
    for method in ("get", "delete"):
        r = await getattr(client, method)(f"/api/shared-links/{body['id']}", headers=other.headers)
        assert (r.status_code, await r.get_json()) == (400, {"message": "Shared link not found"})
    r = await client.patch(f"/api/shared-links/{body['id']}", headers=other.headers, json={"description": "x"})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Shared link not found"})
    assert (await (await client.get("/api/shared-links", headers=other.headers)).get_json()) == []


async def test_create_errors(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    theirs = with_exif(sql, ana.id)
    cases = [
        ({"type": "INDIVIDUAL"}, "Invalid assetIds"),
        ({"type": "INDIVIDUAL", "assetIds": []}, "Invalid assetIds"),
        ({"type": "ALBUM"}, "Invalid albumId"),
        ({"type": "INDIVIDUAL", "assetIds": [theirs]}, "Not found or no asset.share access"),
        ({"type": "ALBUM", "albumId": str(uuid.uuid4())}, "Not found or no album.share access"),
    ]
    for body, message in cases:
        r = await client.post("/api/shared-links", headers=alex.headers, json=body)
        assert (r.status_code, (await r.get_json())["message"]) == (400, message)
    mine = with_exif(sql, alex.id)
    first = {"type": "INDIVIDUAL", "assetIds": [mine], "slug": "holiday"}
    assert (await client.post("/api/shared-links", headers=alex.headers, json=first)).status_code == 201
    r = await client.post("/api/shared-links", headers=alex.headers, json=first)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Failed to save shared link"})
    assert sql("SELECT count(*) FROM shared_link") == [(1,)]
    assert sql("SELECT count(*) FROM shared_link_asset") == [(1,)]


async def test_album_link_and_holder_view(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    old, new = with_exif(sql, alex.id, datetime(2007, 12, 6, 14, 33, 18, tzinfo=UTC)), with_exif(sql, alex.id)
    album = await album_of(client, alex, [old, new])
    r = await client.post("/api/shared-links", headers=alex.headers,
                          json={"type": "ALBUM", "albumId": album, "description": "for grandma", "showMetadata": False})
    assert r.status_code == 201
    created = await r.get_json()
    assert created["allowDownload"] is False and created["showMetadata"] is False and "album" not in created

    r = await client.get(f"/api/shared-links?albumId={album}", headers=alex.headers)
    [listed] = await r.get_json()
    assert list(listed) == LINK_KEYS and list(listed["album"]) == LISTED_ALBUM_KEYS
    assert listed["album"]["assetCount"] == 0 and listed["album"]["albumUsers"] == []
    assert listed["album"]["shared"] is True and listed["assets"] == []
    assert (await (await client.get(f"/api/shared-links?albumId={uuid.uuid4()}", headers=alex.headers)).get_json()) == []

    r = await client.get(f"/api/shared-links/me?key={created['key']}")
    me = await r.get_json()
    assert r.status_code == 200 and me["album"]["assetCount"] == 2
    assert me["album"]["startDate"] == "2007-12-06T14:33:18+00:00"
    assert me["album"]["endDate"] == "2024-06-01T12:00:00+00:00"

    r = await client.get("/api/shared-links/me", headers=alex.headers)
    assert (r.status_code, await r.get_json()) == (403, {"message": "Forbidden"})
    r = await client.put(f"/api/shared-links/{created['id']}/assets", headers=alex.headers, json={"assetIds": [new]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Invalid shared link type"})

    # the link's timeline: buckets of the album
    r = await client.get(f"/api/timeline/buckets?albumId={album}&key={created['key']}")
    assert (r.status_code, await r.get_json()) == (
        200, [{"timeBucket": "2024-06-01", "count": 1}, {"timeBucket": "2007-12-01", "count": 1}])
    r = await client.get(f"/api/timeline/bucket?albumId={album}&timeBucket=2024-06-01&key={created['key']}")
    bucket = await r.get_json()
    assert bucket["id"] == [new] and "city" not in bucket
    r = await client.get(f"/api/timeline/buckets?key={created['key']}")
    assert (r.status_code, (await r.get_json())["message"]) == (400, "Not found or no timeline.read access")
    r = await client.get(f"/api/timeline/buckets?albumId={uuid.uuid4()}&key={created['key']}")
    assert (r.status_code, (await r.get_json())["message"]) == (400, "Not found or no album.read access")


async def test_album_filter_for_members(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    mine, theirs = with_exif(sql, alex.id), with_exif(sql, ana.id)
    outside = with_exif(sql, alex.id)
    album = await album_of(client, alex, [mine])
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album, ana.id, "editor"))
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, theirs))
    for user in (alex, ana):
        r = await client.get(f"/api/timeline/bucket?albumId={album}&timeBucket=2024-06-01", headers=user.headers)
        assert r.status_code == 200 and sorted((await r.get_json())["id"]) == sorted([mine, theirs])
    assert outside
    stranger = await make_user("s@example.com")
    r = await client.get(f"/api/timeline/buckets?albumId={album}", headers=stranger.headers)
    assert (r.status_code, (await r.get_json())["message"]) == (400, "Not found or no album.read access")


async def test_password_cookie_and_expiry(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    photo = with_exif(sql, alex.id)
    r = await client.post("/api/shared-links", headers=alex.headers,
                          json={"type": "INDIVIDUAL", "assetIds": [photo], "password": "secret", "slug": "pw"})
    link = await r.get_json()
    key = link["key"]
    r = await client.get(f"/api/shared-links/me?key={key}")
    assert (r.status_code, await r.get_json()) == (401, {"message": "Password required"})
    r = await client.post(f"/api/shared-links/login?key={key}", json={"password": "nope"})
    assert (r.status_code, await r.get_json()) == (401, {"message": "Invalid password"})
    r = await client.post(f"/api/shared-links/login?key={key}", json={"password": "secret"})
    assert r.status_code == 201 and (await r.get_json())["id"] == link["id"]
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("immich_shared_link_token=") and "HttpOnly" in cookie and "Max-Age=86400" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    r = await client.get("/api/shared-links/me?slug=pw", headers={"Cookie": f"immich_shared_link_token={token}"})
    assert r.status_code == 200 and [a["id"] for a in (await r.get_json())["assets"]] == [photo]
    r = await client.get(f"/api/shared-links/me?key={key}&password=secret")
    assert r.status_code == 200
    # the password guards only /me: the asset itself is readable with the key
    assert (await client.get(f"/api/assets/{photo}?key={key}")).status_code == 200

    r = await client.post("/api/shared-links", headers=alex.headers, json={"type": "INDIVIDUAL", "assetIds": [photo]})
    open_link = await r.get_json()
    r = await client.post(f"/api/shared-links/login?key={open_link['key']}", json={"password": "x"})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Shared link is not password protected"})

    sql('UPDATE shared_link SET "expiresAt" = %s WHERE id = %s', (datetime.now(UTC) - timedelta(minutes=1), link["id"]))
    for path in (f"/api/shared-links/me?key={key}", f"/api/assets/{photo}?key={key}"):
        r = await client.get(path)
        assert (r.status_code, await r.get_json()) == (401, {"message": "Invalid share key"})
    r = await client.get("/api/shared-links/me?slug=pw")
    assert (r.status_code, await r.get_json()) == (401, {"message": "Invalid share slug"})


async def test_update_and_delete(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    photo = with_exif(sql, alex.id)
    r = await client.post("/api/shared-links", headers=alex.headers, json={
        "type": "INDIVIDUAL", "assetIds": [photo], "expiresAt": "2030-01-01T00:00:00.000Z", "slug": "s1"})
    link = await r.get_json()
    assert link["expiresAt"] == "2030-01-01T00:00:00.000Z"
    r = await client.patch(f"/api/shared-links/{link['id']}", headers=alex.headers,
                           json={"description": "hi", "allowDownload": False, "changeExpiryTime": True})
    body = await r.get_json()
    assert r.status_code == 200 and body["description"] == "hi" and body["allowDownload"] is False
    assert body["expiresAt"] is None and body["slug"] is None  # Immich writes the slug on every update
    r = await client.patch(f"/api/shared-links/{link['id']}", headers=alex.headers,
                           json={"expiresAt": "2031-01-01T00:00:00.000Z", "slug": "s2"})
    body = await r.get_json()
    assert body["expiresAt"] == "2031-01-01T00:00:00.000Z" and body["slug"] == "s2" and body["description"] == "hi"
    r = await client.delete(f"/api/shared-links/{link['id']}", headers=alex.headers)
    assert r.status_code == 204 and sql("SELECT count(*) FROM shared_link") == [(0,)]


async def test_add_and_remove_assets(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    a, b = with_exif(sql, alex.id), with_exif(sql, alex.id)
    theirs = with_exif(sql, ana.id)
    r = await client.post("/api/shared-links", headers=alex.headers, json={"type": "INDIVIDUAL", "assetIds": [a]})
    link = (await r.get_json())["id"]
    r = await client.put(f"/api/shared-links/{link}/assets", headers=alex.headers,
                         json={"assetIds": [a, b, b, theirs]})
    assert await r.get_json() == [
        {"assetId": a, "success": False, "error": "duplicate"},
        {"assetId": b, "success": True},
        {"assetId": b, "success": False, "error": "duplicate"},
        {"assetId": theirs, "success": False, "error": "no_permission"},
    ]
    r = await client.open(f"/api/shared-links/{link}/assets", method="DELETE", headers=alex.headers,
                             json={"assetIds": [b, theirs]})
    assert await r.get_json() == [
        {"assetId": b, "success": True},
        {"assetId": theirs, "success": False, "error": "not_found"},
    ]
    assert sql('SELECT "assetId"::text FROM shared_link_asset') == [(a,)]
