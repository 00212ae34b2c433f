"""The Albums tag: the 13 operations, their DTOs (shape and key order as Immich v3.1 answered),
per-id bulk results, member rules and the ``on_album_update`` event."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from immich_trio.runtime import Runtime
from tests.http.conftest import next_event

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]

# Immich v3.1's GET /albums/{id} (a shared album), recorded: the keys and their order.
ALBUM_KEYS = [
    "albumName", "description", "albumThumbnailAssetId", "createdAt", "updatedAt", "id", "albumUsers",
    "shared", "hasSharedLink", "startDate", "endDate", "assetCount", "isActivityEnabled", "order",
    "lastModifiedAssetTimestamp", "contributorCounts",
]
USER_KEYS = ["id", "email", "name", "profileImagePath", "avatarColor", "profileChangedAt"]


def insert_asset(sql: Sql, owner: str, when: datetime, *, deleted: bool = False, lat: float | None = None) -> str:
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "deletedAt", status)'
        " VALUES (%s, %s, 'IMAGE', %s, 'a.jpg', %s, 'sha1', %s, %s, %s, %s, %s)",
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], when, when, when,
         when if deleted else None, "trashed" if deleted else "active"),
    )
    if lat is not None:
        sql('INSERT INTO asset_exif ("assetId", latitude, longitude, city) VALUES (%s, %s, %s, %s)',
            (asset_id, lat, 13.4, "Berlin"))
    return asset_id


D1 = datetime(2022, 1, 10, 9, 30, tzinfo=UTC)
D2 = datetime(2025, 12, 1, 18, 0, tzinfo=UTC)


async def _create(client: Any, user: Any, body: dict[str, Any]) -> Any:
    r = await client.post("/api/albums", json=body, headers=user.headers)
    assert r.status_code == 201, await r.get_json()
    return await r.get_json()


async def test_create_get_list_statistics(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    bo = await make_user("bo@example.com", name="Bo")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    foreign = insert_asset(sql, bo.id, D1)
    body = await _create(client, alex, {
        "albumName": "Summer", "description": "Trip", "assetIds": [a2, a1, a1, foreign],
        "albumUsers": [{"userId": ana.id, "role": "editor"}, {"userId": alex.id, "role": "viewer"}],
    })
    assert body["albumThumbnailAssetId"] == a2  # the first added asset
    assert body["assetCount"] == 2 and body["shared"] is True and body["hasSharedLink"] is False
    assert [(u["user"]["email"], u["role"]) for u in body["albumUsers"]] == [
        ("alex@example.com", "owner"), ("ana@example.com", "editor")]
    assert "lastModifiedAssetTimestamp" not in body
    assert body["startDate"] == "2022-01-10T09:30:00+00:00" and body["endDate"] == "2025-12-01T18:00:00+00:00"
    album = body["id"]

    r = await client.get(f"/api/albums/{album}", headers=ana.headers)
    got = await r.get_json()
    assert r.status_code == 200 and list(got) == ALBUM_KEYS
    assert list(got["albumUsers"][0]["user"]) == USER_KEYS
    assert got["startDate"] == "2022-01-10T00:00:00.000Z" and got["endDate"] == "2025-12-01T00:00:00.000Z"
    assert got["contributorCounts"] == [{"userId": alex.id, "assetCount": 2}]
    assert got["order"] == "desc" and got["isActivityEnabled"] is True

    private = await _create(client, alex, {"albumName": "Private"})
    assert private["albumThumbnailAssetId"] is None and private["assetCount"] == 0 and private["shared"] is False
    assert "startDate" not in private

    r = await client.get("/api/albums", headers=alex.headers)
    assert [a["albumName"] for a in await r.get_json()] == ["Private", "Summer"]
    r = await client.get("/api/albums?isShared=true", headers=ana.headers)
    assert [a["albumName"] for a in await r.get_json()] == ["Summer"]
    r = await client.get("/api/albums?isOwned=true", headers=ana.headers)
    assert await r.get_json() == []
    r = await client.get(f"/api/albums?assetId={a1}", headers=alex.headers)
    assert [a["id"] for a in await r.get_json()] == [album]
    r = await client.get("/api/albums?name=Private", headers=alex.headers)
    assert [a["id"] for a in await r.get_json()] == [private["id"]]
    r = await client.get("/api/albums", headers=bo.headers)
    assert await r.get_json() == []
    r = await client.get("/api/albums/statistics", headers=alex.headers)
    assert await r.get_json() == {"owned": 2, "shared": 1, "notShared": 1}

    r = await client.get(f"/api/albums/{album}", headers=bo.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no album.read access"})


async def test_create_with_unknown_user(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    r = await client.post("/api/albums", headers=alex.headers,
                          json={"albumName": "X", "albumUsers": [{"userId": str(uuid.uuid4()), "role": "viewer"}]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Invalid user"})
    assert sql("SELECT count(*) FROM album") == [(0,)]


async def test_update_and_cover(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    outside = insert_asset(sql, alex.id, D1)
    album = (await _create(client, alex, {"albumName": "A", "assetIds": [a1, a2],
                                          "albumUsers": [{"userId": ana.id, "role": "editor"}]}))["id"]
    r = await client.patch(f"/api/albums/{album}", headers=alex.headers,
                           json={"albumName": "B", "description": "d", "albumThumbnailAssetId": a2,
                                 "order": "asc", "isActivityEnabled": False})
    body = await r.get_json()
    assert r.status_code == 200
    assert (body["albumName"], body["description"], body["albumThumbnailAssetId"], body["order"],
            body["isActivityEnabled"]) == ("B", "d", a2, "asc", False)
    r = await client.patch(f"/api/albums/{album}", headers=alex.headers, json={"albumThumbnailAssetId": outside})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Invalid album thumbnail"})
    r = await client.patch(f"/api/albums/{album}", headers=ana.headers, json={"albumName": "Mine"})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no album.update access"})
    assert sql('SELECT "albumName" FROM album') == [("B",)]

    # the cover leaves: the newest remaining asset takes its place
    r = await client.open(f"/api/albums/{album}/assets", method="DELETE", headers=alex.headers, json={"ids": [a2]})
    assert await r.get_json() == [{"id": a2, "success": True}]
    assert sql('SELECT "albumThumbnailAssetId"::text FROM album') == [(a1,)]


async def test_add_and_remove_assets(client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime,
                                     relay: Any) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    vic = await make_user("vic@example.com")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    mine = insert_asset(sql, ana.id, D1)
    foreign = insert_asset(sql, vic.id, D1)
    unknown = str(uuid.uuid4())
    album = (await _create(client, alex, {"albumName": "A", "albumUsers": [
        {"userId": ana.id, "role": "editor"}, {"userId": vic.id, "role": "viewer"}]}))["id"]
    sub = runtime.hub.attach(user_id=vic.id, session_id=None)

    r = await client.put(f"/api/albums/{album}/assets", headers=ana.headers,
                         json={"ids": [mine, mine, foreign, unknown]})
    assert await r.get_json() == [
        {"id": mine, "success": True}, {"id": mine, "success": False, "error": "duplicate"},
        {"id": foreign, "success": False, "error": "no_permission"},
        {"id": unknown, "success": False, "error": "no_permission"}]
    assert sql('SELECT "albumThumbnailAssetId"::text FROM album') == [(mine,)]
    assert await next_event(sub) == ["on_album_update", album]

    r = await client.put(f"/api/albums/{album}/assets", headers=vic.headers, json={"ids": [foreign]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no albumAsset.create access"})
    r = await client.put(f"/api/albums/{uuid.uuid4()}/assets", headers=ana.headers, json={"ids": [mine]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Album not found"})

    r = await client.put(f"/api/albums/{album}/assets", headers=alex.headers, json={"ids": [a1, a2]})
    assert [x["success"] for x in await r.get_json()] == [True, True]
    # an editor removes only what it may share; the owner removes anything
    r = await client.open(f"/api/albums/{album}/assets", method="DELETE", headers=ana.headers,
                             json={"ids": [a1, mine, mine, unknown]})
    assert await r.get_json() == [
        {"id": a1, "success": False, "error": "no_permission"}, {"id": mine, "success": True},
        {"id": mine, "success": False, "error": "not_found"},
        {"id": unknown, "success": False, "error": "not_found"}]
    r = await client.open(f"/api/albums/{album}/assets", method="DELETE", headers=vic.headers, json={"ids": [a1]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no albumAsset.delete access"})
    r = await client.open(f"/api/albums/{album}/assets", method="DELETE", headers=alex.headers, json={"ids": [a1]})
    assert await r.get_json() == [{"id": a1, "success": True}]
    assert sql('SELECT "assetId"::text FROM album_asset') == [(a2,)]


async def test_add_assets_to_many_albums(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    one = (await _create(client, alex, {"albumName": "One", "assetIds": [a1]}))["id"]
    two = (await _create(client, alex, {"albumName": "Two"}))["id"]
    theirs = (await _create(client, bo, {"albumName": "Theirs"}))["id"]
    r = await client.put("/api/albums/assets", headers=alex.headers,
                         json={"albumIds": [one, two, theirs], "assetIds": [a1, a2]})
    assert (r.status_code, await r.get_json()) == (200, {"success": True})
    pairs = sql('SELECT "albumId"::text, "assetId"::text FROM album_asset')
    assert sorted(pairs) == sorted([(one, a1), (one, a2), (two, a1), (two, a2)])
    assert sql('SELECT "albumThumbnailAssetId"::text FROM album WHERE id = %s', (two,)) == [(a1,)]
    r = await client.put("/api/albums/assets", headers=alex.headers, json={"albumIds": [one, two], "assetIds": [a1]})
    assert await r.get_json() == {"success": False, "error": "duplicate"}
    r = await client.put("/api/albums/assets", headers=alex.headers, json={"albumIds": [theirs], "assetIds": [a1]})
    assert await r.get_json() == {"success": False, "error": "no_permission"}
    r = await client.put("/api/albums/assets", headers=bo.headers, json={"albumIds": [theirs], "assetIds": [a1]})
    assert await r.get_json() == {"success": False, "error": "no_permission"}


async def test_members(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    bo = await make_user("bo@example.com", name="Bo")
    album = (await _create(client, alex, {"albumName": "A"}))["id"]
    r = await client.put(f"/api/albums/{album}/users", headers=alex.headers,
                         json={"albumUsers": [{"userId": bo.id, "role": "viewer"}, {"userId": ana.id},
                                              {"userId": ana.id, "role": "viewer"}]})
    body = await r.get_json()
    assert r.status_code == 200
    assert [(u["user"]["name"], u["role"]) for u in body["albumUsers"]] == [
        ("Alex", "owner"), ("Ana", "editor"), ("Bo", "viewer")]
    r = await client.put(f"/api/albums/{album}/users", headers=alex.headers,
                         json={"albumUsers": [{"userId": bo.id, "role": "owner"}]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Cannot add another owner"})
    r = await client.put(f"/api/albums/{album}/users", headers=ana.headers, json={"albumUsers": [{"userId": bo.id}]})
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no album.share access"})

    r = await client.put(f"/api/albums/{album}/user/{bo.id}", headers=alex.headers, json={"role": "editor"})
    assert r.status_code == 204
    r = await client.put(f"/api/albums/{album}/user/{alex.id}", headers=alex.headers, json={"role": "editor"})
    assert (r.status_code, await r.get_json()) == (400, {"message": "User is owner"})
    roles = dict(sql('SELECT "userId"::text, role::text FROM album_user'))
    assert roles == {alex.id: "owner", ana.id: "editor", bo.id: "editor"}

    r = await client.delete(f"/api/albums/{album}/user/{bo.id}", headers=ana.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no album.share access"})
    r = await client.delete(f"/api/albums/{album}/user/me", headers=ana.headers)
    assert r.status_code == 204
    r = await client.delete(f"/api/albums/{album}/user/{alex.id}", headers=alex.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Cannot remove the last album owner"})
    r = await client.delete(f"/api/albums/{album}/user/{ana.id}", headers=alex.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Album not shared with user"})
    r = await client.delete(f"/api/albums/{album}/user/{bo.id}", headers=alex.headers)
    assert r.status_code == 204
    assert sql("SELECT count(*) FROM album_user") == [(1,)]


async def test_delete_and_map_markers(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    placed = insert_asset(sql, alex.id, D1, lat=52.5)
    album = (await _create(client, alex, {"albumName": "A", "assetIds": [placed, insert_asset(sql, alex.id, D2)],
                                          "albumUsers": [{"userId": ana.id, "role": "editor"}]}))["id"]
    r = await client.get(f"/api/albums/{album}/map-markers", headers=ana.headers)
    assert await r.get_json() == [
        {"id": placed, "lat": 52.5, "lon": 13.4, "city": "Berlin", "state": None, "country": None}]
    r = await client.delete(f"/api/albums/{album}", headers=ana.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no album.delete access"})
    r = await client.delete(f"/api/albums/{album}", headers=alex.headers)
    assert r.status_code == 204
    assert sql("SELECT count(*) FROM album") == [(0,)]
