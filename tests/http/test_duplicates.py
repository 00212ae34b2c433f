"""The Duplicates tag: list (singletons dissolved, suggestion), dismiss one and many, resolve with
keep/trash (metadata absorbed by the single keeper), and Immich's errors for bad input."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_trio.runtime import Runtime
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def _group(sql: Sql, user: UserCreds, media: Path, count: int, prefix: str) -> tuple[str, list[str]]:
    group = str(uuid.uuid4())
    ids = [_asset(sql, user.id, media, f"{prefix}{i}.jpg", "IMAGE") for i in range(count)]
    sql('UPDATE asset SET "duplicateId" = %s WHERE id = ANY(%s::uuid[])', (group, ids))
    return group, ids


def _dup_ids(sql: Sql, ids: list[str]) -> list[str | None]:
    rows = dict(sql('SELECT id::text, "duplicateId"::text FROM asset WHERE id = ANY(%s::uuid[])', (ids,)))
    return [rows[i] for i in ids]


async def test_list_dissolves_singletons_and_suggests(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    media = runtime.settings.media_location
    group, (a, b) = _group(sql, alex, media, 2, "g")
    lonely, (c,) = _group(sql, alex, media, 1, "s")
    sql('UPDATE asset_exif SET "fileSizeInByte" = 10 WHERE "assetId" = %s', (b,))
    response = await client.get("/api/duplicates", headers=alex.headers)
    body = await response.get_json()
    assert response.status_code == 200
    assert [g["duplicateId"] for g in body] == [group]
    assert list(body[0]) == ["assets", "duplicateId", "suggestedKeepAssetIds"] or set(body[0]) == {
        "assets", "duplicateId", "suggestedKeepAssetIds"}
    assert sorted(x["id"] for x in body[0]["assets"]) == sorted([a, b])
    assert body[0]["assets"][0]["duplicateId"] == group and body[0]["assets"][0]["tags"] == []
    assert body[0]["suggestedKeepAssetIds"] == [b]
    assert _dup_ids(sql, [c]) == [None]  # the singleton was dissolved
    # another user sees nothing of it
    blake = await make_user("blake@example.com")
    response = await client.get("/api/duplicates", headers=blake.headers)
    assert await response.get_json() == []
    _ = lonely


async def test_dismiss_one_and_many(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    blake = await make_user("blake@example.com")
    media = runtime.settings.media_location
    g1, ids1 = _group(sql, alex, media, 2, "a")
    g2, ids2 = _group(sql, alex, media, 2, "b")
    g3, ids3 = _group(sql, alex, media, 2, "c")
    response = await client.delete(f"/api/duplicates/{g1}", headers=blake.headers)
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Not found or no duplicate.delete access"
    response = await client.delete(f"/api/duplicates/{g1}", headers=alex.headers)
    assert response.status_code == 204
    assert _dup_ids(sql, ids1) == [None, None]
    # many: all or nothing on access, a repeated id is fine
    response = await client.delete(
        "/api/duplicates", headers=alex.headers, json={"ids": [g2, MISSING_ID]})
    assert response.status_code == 400 and _dup_ids(sql, ids2) == [g2, g2]
    response = await client.delete(
        "/api/duplicates", headers=alex.headers, json={"ids": [g2, g3, g2]})
    assert response.status_code == 204
    assert _dup_ids(sql, ids2 + ids3) == [None] * 4
    response = await client.delete(
        "/api/duplicates", headers=alex.headers, json={"ids": ["nope"]})
    assert response.status_code == 400


async def test_resolve_keeps_one_and_trashes_the_rest(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    media = runtime.settings.media_location
    group, (a, b) = _group(sql, alex, media, 2, "r")
    sql('UPDATE asset SET "isFavorite" = true WHERE id = %s', (b,))
    sql('UPDATE asset_exif SET rating = 4, description = %s WHERE "assetId" = %s', ("exif\nsecond", b))
    body = {"groups": [{"duplicateId": group, "keepAssetIds": [a], "trashAssetIds": [b]}]}
    response = await client.post("/api/duplicates/resolve", headers=alex.headers, json=body)
    assert response.status_code == 200, await response.get_json()
    assert await response.get_json() == [{"id": group, "success": True}]
    [(fav, dup, deleted_a)] = sql('SELECT "isFavorite", "duplicateId", "deletedAt" FROM asset WHERE id = %s', (a,))
    assert fav is True and dup is None and deleted_a is None
    [(status, dup_b, deleted_b)] = sql('SELECT status, "duplicateId", "deletedAt" FROM asset WHERE id = %s', (b,))
    assert status == "trashed" and dup_b is None and deleted_b is not None
    [(rating, description)] = sql('SELECT rating, description FROM asset_exif WHERE "assetId" = %s', (a,))
    assert rating == 4 and description == "exif\nsecond"


async def test_resolve_bad_input(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    blake = await make_user("blake@example.com")
    media = runtime.settings.media_location
    group, (a, b) = _group(sql, alex, media, 2, "x")
    other, _ = _group(sql, blake, media, 2, "y")

    async def resolve(groups: list[dict[str, Any]], who: UserCreds = alex) -> tuple[int, Any]:
        response = await client.post("/api/duplicates/resolve", headers=who.headers, json={"groups": groups})
        return response.status_code, await response.get_json()

    def g(keep: list[str], trash: list[str], dup: str = group) -> dict[str, Any]:
        return {"duplicateId": dup, "keepAssetIds": keep, "trashAssetIds": trash}

    assert (await resolve([]))[0] == 400  # minItems 1
    status, body = await resolve([g([a], [b], other)])
    assert status == 400 and body["message"] == "Not found or no duplicate.delete access"
    status, body = await resolve([g([a], [])])
    assert body == [{"id": group, "success": False, "error": "validation",
                     "errorMessage": "Every asset must be in either keepAssetIds or trashAssetIds"}]
    status, body = await resolve([g([a, b], [b])])
    assert body[0]["errorMessage"] == "An asset cannot be in both keepAssetIds and trashAssetIds"
    # an id listed twice in trash: Immich's set-vs-list comparison refuses it
    status, body = await resolve([g([a], [b, b])])
    assert body[0]["error"] == "no_permission" and body[0]["errorMessage"] == "No permission to delete assets"
    # ids outside the group are ignored; keeping both just unlinks them
    status, body = await resolve([g([a, b, MISSING_ID], [])])
    assert body == [{"id": group, "success": True}] and _dup_ids(sql, [a, b]) == [None, None]
    # the group is gone now: not found
    sql('UPDATE asset SET "duplicateId" = NULL WHERE "duplicateId" = %s', (group,))
    assert (await resolve([g([a], [b])]))[0] == 400
