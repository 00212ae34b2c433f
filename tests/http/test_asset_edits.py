"""PUT/DELETE /api/assets, PUT /api/assets/{id}, statistics and asset metadata, on a real database."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from immich_trio.http.socketio import EventRelay
from immich_trio.runtime import Runtime
from tests.http.conftest import next_event

Sql = Callable[..., list[tuple[Any, ...]]]


def insert_asset(
    sql: Sql,
    owner: str,
    *,
    type: str = "IMAGE",
    visibility: str = "timeline",
    favorite: bool = False,
    deleted: bool = False,
    path: str = "/nowhere/IMG.jpg",
) -> str:
    when = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    rows = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", "isFavorite",'
        ' visibility, "deletedAt", status)'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'sha1', 'IMG.jpg', %s, %s, %s, %s) RETURNING id",
        (owner, type, path, when, when, when, os.urandom(20), favorite, visibility,
         when if deleted else None, "trashed" if deleted else "active"),
    )
    asset_id = str(rows[0][0])
    sql('INSERT INTO asset_exif ("assetId", description) VALUES (%s, %s)', (asset_id, ""))
    return asset_id


async def test_update_asset_edits_and_locks_exif(
    client: Any, make_user: Any, sql: Sql, runtime: Runtime, relay: EventRelay
) -> None:
    user = await make_user()
    sub = runtime.hub.attach(user_id=user.id, session_id=None)
    asset_id = insert_asset(sql, user.id)
    response = await client.put(
        f"/api/assets/{asset_id}",
        headers=user.headers,
        json={
            "isFavorite": True,
            "visibility": "archive",
            "description": "Lake",
            "rating": 4,
            "latitude": 46.5,
            "longitude": 6.6,
            "dateTimeOriginal": "2023-07-01T12:00:00.000+02:00",
        },
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["id"] == asset_id
    assert body["isFavorite"] is True
    assert body["isArchived"] is True and body["visibility"] == "archive"
    exif = body["exifInfo"]
    assert (exif["description"], exif["rating"], exif["latitude"], exif["longitude"]) == ("Lake", 4, 46.5, 6.6)
    assert exif["dateTimeOriginal"] == "2023-07-01T10:00:00+00:00"
    assert exif["timeZone"] == "UTC+2"
    (locked,) = sql('SELECT "lockedProperties" FROM asset_exif WHERE "assetId" = %s', (asset_id,))[0]
    assert sorted(locked) == sorted(
        ["dateTimeOriginal", "description", "latitude", "longitude", "rating", "timeZone"]
    )
    name, sent = await next_event(sub)
    # The asset as its owner sees it, committed: the same as the answer.
    assert (name, sent["id"], sent["isFavorite"]) == ("on_asset_update", asset_id, True)
    assert sent["exifInfo"]["description"] == "Lake"
    jobs = sql("SELECT name, data FROM immich_trio.job WHERE name = 'SidecarWrite'")
    assert len(jobs) == 1 and jobs[0][1]["id"] == asset_id and jobs[0][1]["description"] == "Lake"

    # A second edit appends to the locked properties; rating null is a value, not "absent".
    response = await client.put(f"/api/assets/{asset_id}", headers=user.headers, json={"rating": None})
    assert (await response.get_json())["exifInfo"]["rating"] is None


async def test_update_asset_of_another_user_is_refused(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    other = await make_user("other@example.com")
    theirs = insert_asset(sql, other.id)
    response = await client.put(f"/api/assets/{theirs}", headers=user.headers, json={"isFavorite": True})
    assert response.status_code == 400
    assert await response.get_json() == {"message": "Not found or no asset.update access"}
    assert sql("SELECT \"isFavorite\" FROM asset WHERE id = %s", (theirs,)) == [(False,)]


async def test_locked_asset_needs_elevated_session(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    locked = insert_asset(sql, user.id, visibility="locked")
    response = await client.put(f"/api/assets/{locked}", headers=user.headers, json={"isFavorite": True})
    assert response.status_code == 400
    sql('UPDATE session SET "pinExpiresAt" = now() + interval \'5 minutes\' WHERE "userId" = %s', (user.id,))
    response = await client.put(f"/api/assets/{locked}", headers=user.headers, json={"isFavorite": True})
    assert response.status_code == 200


async def test_live_photo_link_and_unlink(
    client: Any, make_user: Any, sql: Sql, runtime: Runtime, relay: EventRelay
) -> None:
    user = await make_user()
    sub = runtime.hub.attach(user_id=user.id, session_id=None)
    still = insert_asset(sql, user.id, visibility="archive")
    video = insert_asset(sql, user.id, type="VIDEO")
    other_still = insert_asset(sql, user.id)

    response = await client.put(f"/api/assets/{still}", headers=user.headers, json={"livePhotoVideoId": other_still})
    assert (response.status_code, (await response.get_json())["message"]) == (400, "Live photo video must be a video")

    response = await client.put(f"/api/assets/{still}", headers=user.headers, json={"livePhotoVideoId": video})
    assert response.status_code == 200
    assert (await response.get_json())["livePhotoVideoId"] == video
    assert sql("SELECT visibility::text FROM asset WHERE id = %s", (video,)) == [("hidden",)]
    assert await next_event(sub) == ["on_asset_hidden", video]
    assert (await next_event(sub))[0] == "on_asset_update"

    response = await client.put(f"/api/assets/{still}", headers=user.headers, json={"livePhotoVideoId": None})
    assert (await response.get_json())["livePhotoVideoId"] is None
    # The video shows again with the still's visibility.
    assert sql("SELECT visibility::text FROM asset WHERE id = %s", (video,)) == [("archive",)]


async def test_bulk_update(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    other = await make_user("other@example.com")
    a, b = insert_asset(sql, user.id), insert_asset(sql, user.id)
    theirs = insert_asset(sql, other.id)

    response = await client.put(
        "/api/assets", headers=user.headers, json={"ids": [a, theirs], "isFavorite": True}
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Not found or no asset.update access"
    assert sql('SELECT count(*) FROM asset WHERE "isFavorite"') == [(0,)]

    sql('UPDATE asset_exif SET "dateTimeOriginal" = %s WHERE "assetId" IN (%s, %s)',
        (datetime(2024, 1, 1, 12, tzinfo=UTC), a, b))
    response = await client.put(
        "/api/assets",
        headers=user.headers,
        json={"ids": [a, b], "isFavorite": True, "visibility": "archive", "dateTimeRelative": 90,
              "timeZone": "Europe/Paris"},
    )
    assert response.status_code == 204
    rows = sql(
        'SELECT a."isFavorite", a.visibility::text, e."dateTimeOriginal", e."timeZone", e."lockedProperties"'
        ' FROM asset a JOIN asset_exif e ON e."assetId" = a.id WHERE a.id IN (%s, %s)',
        (a, b),
    )
    for fav, visibility, taken, tz, locked in rows:
        assert (fav, visibility, tz) == (True, "archive", "Europe/Paris")
        assert taken == datetime(2024, 1, 1, 13, 30, tzinfo=UTC)
        assert sorted(locked) == ["dateTimeOriginal", "timeZone"]


async def test_delete_trash_and_force(
    client: Any, make_user: Any, sql: Sql, runtime: Runtime, relay: EventRelay
) -> None:
    user = await make_user()
    sub = runtime.hub.attach(user_id=user.id, session_id=None)
    other = await make_user("other@example.com")
    a, b = insert_asset(sql, user.id), insert_asset(sql, user.id)
    theirs = insert_asset(sql, other.id)

    response = await client.delete("/api/assets", headers=user.headers, json={"ids": [a, theirs]})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Not found or no asset.delete access"

    response = await client.delete("/api/assets", headers=user.headers, json={"ids": [a]})
    assert response.status_code == 204
    status, deleted_at = sql('SELECT status::text, "deletedAt" FROM asset WHERE id = %s', (a,))[0]
    assert status == "trashed" and deleted_at is not None
    assert await next_event(sub) == ["on_asset_trash", [a]]

    response = await client.delete("/api/assets", headers=user.headers, json={"ids": [b], "force": True})
    assert response.status_code == 204
    assert sql("SELECT status::text FROM asset WHERE id = %s", (b,)) == [("deleted",)]
    assert sql("SELECT queue, name FROM immich_trio.job WHERE name = 'AssetEmptyTrash'") == [
        ("backgroundTask", "AssetEmptyTrash")
    ]
    assert sql("SELECT status::text FROM asset WHERE id = %s", (theirs,)) == [("active",)]


async def test_statistics(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    other = await make_user("other@example.com")
    insert_asset(sql, user.id)
    insert_asset(sql, user.id, favorite=True)
    insert_asset(sql, user.id, type="VIDEO", visibility="archive")
    insert_asset(sql, user.id, type="VIDEO", visibility="hidden")
    insert_asset(sql, user.id, deleted=True)
    insert_asset(sql, user.id, visibility="locked")
    insert_asset(sql, other.id)

    async def stats(**query: str) -> Any:
        response = await client.get("/api/assets/statistics", headers=user.headers, query_string=query)
        return response.status_code, await response.get_json()

    assert await stats() == (200, {"images": 2, "videos": 1, "total": 3})
    assert await stats(visibility="timeline") == (200, {"images": 2, "videos": 0, "total": 2})
    assert await stats(isFavorite="true") == (200, {"images": 1, "videos": 0, "total": 1})
    assert await stats(isTrashed="true") == (200, {"images": 1, "videos": 0, "total": 1})
    assert await stats(visibility="locked") == (401, {"message": "Elevated permission is required"})


async def test_asset_metadata(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    other = await make_user("other@example.com")
    asset_id = insert_asset(sql, user.id)
    base = f"/api/assets/{asset_id}/metadata"

    response = await client.put(
        base, headers=user.headers, json={"items": [{"key": "mobile-app", "value": {"cloudId": "x"}}]}
    )
    assert response.status_code == 200
    (item,) = await response.get_json()
    assert item["key"] == "mobile-app" and item["value"] == {"cloudId": "x"}
    assert item["updatedAt"].endswith("Z")

    assert [i["key"] for i in await (await client.get(base, headers=user.headers)).get_json()] == ["mobile-app"]
    response = await client.get(f"{base}/mobile-app", headers=user.headers)
    assert (await response.get_json())["value"] == {"cloudId": "x"}

    response = await client.get(f"{base}/mobile-app", headers=other.headers)
    assert (response.status_code, (await response.get_json())["message"]) == (400, "Not found or no asset.read access")

    assert (await client.delete(f"{base}/mobile-app", headers=user.headers)).status_code == 204
    response = await client.get(f"{base}/mobile-app", headers=user.headers)
    assert response.status_code == 400
    assert (await response.get_json())["message"] == (
        f'Metadata with key "mobile-app" not found for asset with id "{asset_id}"'
    )

    response = await client.put(
        "/api/assets/metadata", headers=user.headers,
        json={"items": [{"assetId": asset_id, "key": "k", "value": {"a": 1}}]},
    )
    assert response.status_code == 200
    assert [(i["assetId"], i["key"], i["value"]) for i in await response.get_json()] == [(asset_id, "k", {"a": 1})]
    # A value's entries may be null (Immich's z.unknown()), and stay null.
    response = await client.put(base, headers=user.headers, json={"items": [{"key": "n", "value": {"a": None}}]})
    assert response.status_code == 200
    assert [(i["key"], i["value"]) for i in await response.get_json()] == [("n", {"a": None})]
    assert (await client.delete(f"{base}/n", headers=user.headers)).status_code == 204
    response = await client.delete(
        "/api/assets/metadata", headers=other.headers, json={"items": [{"assetId": asset_id, "key": "k"}]}
    )
    assert response.status_code == 400
    response = await client.delete(
        "/api/assets/metadata", headers=user.headers, json={"items": [{"assetId": asset_id, "key": "k"}]}
    )
    assert response.status_code == 204
    assert sql('SELECT count(*) FROM asset_metadata WHERE "assetId" = %s', (asset_id,)) == [(0,)]
