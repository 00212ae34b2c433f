"""The Activities tag: comments and likes on an album or an album asset, filters, statistics,
delete rules, Immich's 200-for-a-second-like, the comment refinements and member-only access."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tests.http.test_albums import D1, D2, insert_asset

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]

# Immich v3.1's GET /activities?albumId= and /activities/statistics, recorded: keys and order.
ACTIVITY_KEYS = ["id", "assetId", "createdAt", "comment", "type", "user"]
USER_KEYS = ["id", "email", "name", "profileImagePath", "avatarColor", "profileChangedAt"]
STATISTICS_KEYS = ["comments", "likes"]


async def _album(client: Any, owner: Any, assets: list[str], members: dict[Any, str]) -> str:
    body = {
        "albumName": "Summer",
        "assetIds": assets,
        "albumUsers": [{"userId": m.id, "role": role} for m, role in members.items()],
    }
    r = await client.post("/api/albums", json=body, headers=owner.headers)
    assert r.status_code == 201, await r.get_json()
    return str((await r.get_json())["id"])


async def _post(client: Any, user: Any, body: dict[str, Any]) -> tuple[int, Any]:
    r = await client.post("/api/activities", json=body, headers=user.headers)
    return r.status_code, await r.get_json()


async def _get(client: Any, user: Any, path: str) -> tuple[int, Any]:
    r = await client.get(path, headers=user.headers)
    return r.status_code, await r.get_json()


async def test_comment_like_list_and_statistics(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    asset = insert_asset(sql, alex.id, D1)
    album = await _album(client, alex, [asset], {ana: "viewer"})

    status, comment = await _post(client, ana, {"albumId": album, "type": "comment", "comment": "Lovely!"})
    assert status == 201 and list(comment) == ACTIVITY_KEYS
    assert comment["assetId"] is None and comment["comment"] == "Lovely!" and comment["type"] == "comment"
    assert list(comment["user"]) == USER_KEYS and comment["user"]["email"] == "ana@example.com"
    assert comment["createdAt"].endswith("Z") and "+00:00" in comment["user"]["profileChangedAt"]

    status, like = await _post(client, alex, {"albumId": album, "type": "like"})
    assert status == 201 and like["comment"] is None and like["type"] == "like"
    status, again = await _post(client, alex, {"albumId": album, "type": "like"})
    assert status == 200 and again == like  # the existing like, answered with 200

    status, asset_like = await _post(client, alex, {"albumId": album, "assetId": asset, "type": "like"})
    assert status == 201 and asset_like["assetId"] == asset and asset_like["id"] != like["id"]
    status, asset_comment = await _post(
        client, ana, {"albumId": album, "assetId": asset, "type": "comment", "comment": "Nice"})
    assert status == 201

    base = f"/api/activities?albumId={album}"
    status, rows = await _get(client, alex, base)
    assert status == 200
    assert [r["id"] for r in rows] == [comment["id"], like["id"], asset_like["id"], asset_comment["id"]]
    assert [r["id"] for r in (await _get(client, ana, base + "&level=album"))[1]] == [comment["id"], like["id"]]
    assert [r["id"] for r in (await _get(client, ana, base + f"&assetId={asset}"))[1]] == [
        asset_like["id"], asset_comment["id"]]
    # level=album wins over assetId, as in Immich
    assert len((await _get(client, ana, base + f"&assetId={asset}&level=album"))[1]) == 2
    assert [r["id"] for r in (await _get(client, ana, base + "&type=like"))[1]] == [like["id"], asset_like["id"]]
    assert [r["id"] for r in (await _get(client, ana, base + f"&type=comment&userId={ana.id}"))[1]] == [
        comment["id"], asset_comment["id"]]

    status, stats = await _get(client, ana, f"/api/activities/statistics?albumId={album}")
    assert status == 200 and list(stats) == STATISTICS_KEYS and stats == {"comments": 2, "likes": 2}
    _, stats = await _get(client, ana, f"/api/activities/statistics?albumId={album}&assetId={asset}")
    assert stats == {"comments": 1, "likes": 1}

    # a trashed asset's activities leave the list and the counts
    sql("UPDATE asset SET \"deletedAt\" = now(), status = 'trashed' WHERE id = %s", (asset,))
    assert len((await _get(client, ana, base))[1]) == 2
    assert (await _get(client, ana, f"/api/activities/statistics?albumId={album}"))[1] == {
        "comments": 1, "likes": 1}


async def test_comment_rules_are_immich_validation(client: Any, make_user: MakeUser) -> None:
    alex = await make_user("alex@example.com")
    album = await _album(client, alex, [], {})
    for body, message in (
        ({"albumId": album, "type": "comment"}, "Comment is required when type is COMMENT"),
        ({"albumId": album, "type": "comment", "comment": "  "}, "Comment is required when type is COMMENT"),
        ({"albumId": album, "type": "like", "comment": "x"}, "Comment must not be provided when type is not COMMENT"),
    ):
        status, body_out = await _post(client, alex, body)
        assert status == 400
        assert body_out == {"message": "Validation failed",
                            "errors": [{"code": "custom", "path": ["comment"], "message": message}]}
    status, _ = await _post(client, alex, {"albumId": album, "type": "dislike"})
    assert status == 400
    status, _ = await _post(client, alex, {"albumId": "nope", "type": "like"})
    assert status == 400
    r = await client.get("/api/activities", headers=alex.headers)
    assert r.status_code == 400  # albumId is required
    r = await client.get(f"/api/activities?albumId={album}&type=bogus", headers=alex.headers)
    assert r.status_code == 400


async def test_members_only_and_activity_enabled(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    bo = await make_user("bo@example.com")
    album = await _album(client, alex, [], {ana: "editor"})
    refused = {"message": "Not found or no album.read access"}
    assert await _get(client, bo, f"/api/activities?albumId={album}") == (400, refused)
    assert await _get(client, bo, f"/api/activities/statistics?albumId={album}") == (400, refused)
    assert await _get(client, bo, f"/api/activities?albumId={uuid.uuid4()}") == (400, refused)
    status, body = await _post(client, bo, {"albumId": album, "type": "like"})
    assert (status, body) == (400, {"message": "Not found or no activity.create access"})

    r = await client.patch(f"/api/albums/{album}", json={"isActivityEnabled": False}, headers=alex.headers)
    assert r.status_code == 200
    for user in (alex, ana):
        status, body = await _post(client, user, {"albumId": album, "type": "like"})
        assert (status, body) == (400, {"message": "Not found or no activity.create access"})
    assert sql("SELECT count(*) FROM activity") == [(0,)]
    # reading stays open to members
    assert (await _get(client, ana, f"/api/activities?albumId={album}"))[0] == 200


async def test_delete_own_or_as_album_owner(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    bo = await make_user("bo@example.com")
    asset = insert_asset(sql, alex.id, D2)
    album = await _album(client, alex, [asset], {ana: "viewer", bo: "editor"})
    _, by_ana = await _post(client, ana, {"albumId": album, "type": "comment", "comment": "one"})
    _, by_ana2 = await _post(client, ana, {"albumId": album, "assetId": asset, "type": "like"})
    _, by_alex = await _post(client, alex, {"albumId": album, "type": "comment", "comment": "two"})

    refused = {"message": "Not found or no activity.delete access"}
    for user, activity in ((bo, by_ana), (ana, by_alex)):  # an editor is no owner
        r = await client.delete(f"/api/activities/{activity['id']}", headers=user.headers)
        assert (r.status_code, await r.get_json()) == (400, refused)
    r = await client.delete(f"/api/activities/{uuid.uuid4()}", headers=alex.headers)
    assert r.status_code == 400

    r = await client.delete(f"/api/activities/{by_ana['id']}", headers=ana.headers)
    assert r.status_code == 204
    r = await client.delete(f"/api/activities/{by_ana2['id']}", headers=alex.headers)  # album owner
    assert r.status_code == 204
    assert sql("SELECT id::text FROM activity") == [(by_alex["id"],)]


async def test_asset_not_in_album_writes_nothing(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    album = await _album(client, alex, [], {})
    outside = insert_asset(sql, alex.id, D1)
    status, body = await _post(client, alex, {"albumId": album, "assetId": outside, "type": "like"})
    assert (status, body) == (500, {"message": "Failed to create activity"})  # Immich: a foreign-key error
    assert sql("SELECT count(*) FROM activity") == [(0,)]
