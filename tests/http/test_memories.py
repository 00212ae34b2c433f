"""The Memories tag: the 8 operations, their DTO (shape and key order as Immich v3.1 answered),
filters, per-id asset results and what a memory leaves out."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]

# Immich v3.1's GET /memories, recorded: the memory's keys (null dates left out) and an asset's.
MEMORY_KEYS = ["id", "createdAt", "updatedAt", "memoryAt", "ownerId", "type", "data", "isSaved", "assets"]
ASSET_KEYS = [
    "id", "createdAt", "ownerId", "libraryId", "type", "originalPath", "originalFileName",
    "originalMimeType", "thumbhash", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt",
    "isFavorite", "isArchived", "isTrashed", "visibility", "duration", "livePhotoVideoId", "people",
    "checksum", "isOffline", "hasMetadata", "duplicateId", "resized", "width", "height", "isEdited",
]  # fmt: skip


def insert_asset(
    sql: Sql, owner: str, when: datetime, *, visibility: str = "timeline", deleted: bool = False
) -> str:
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "deletedAt",'
        ' status, visibility, "isFavorite")'
        " VALUES (%s, %s, 'IMAGE', %s, 'a.jpg', %s, 'sha1', %s, %s, %s, %s, %s, %s, true)",
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], when, when, when,
         when if deleted else None, "trashed" if deleted else "active", visibility),
    )  # fmt: skip
    return asset_id


D1 = datetime(2020, 6, 1, 10, 0, 0, 180000, tzinfo=UTC)
D2 = datetime(2021, 6, 1, 9, 0, tzinfo=UTC)


async def _create(client: Any, user: Any, body: dict[str, Any]) -> Any:
    r = await client.post("/api/memories", json=body, headers=user.headers)
    assert r.status_code == 201, await r.get_json()
    return await r.get_json()


def _memory(**extra: Any) -> dict[str, Any]:
    return {"type": "on_this_day", "data": {"year": 2020}, "memoryAt": "2024-06-01T00:00:00.000Z", **extra}


async def test_create_get_list_with_immich_shape(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    a2, a1 = insert_asset(sql, alex.id, D2), insert_asset(sql, alex.id, D1)
    foreign = insert_asset(sql, bo.id, D1)
    body = await _create(client, alex, _memory(assetIds=[a2, a1, a1, foreign]))
    assert list(body) == MEMORY_KEYS
    assert body["memoryAt"] == "2024-06-01T00:00:00.000Z"
    assert body["data"] == {"year": 2020} and body["isSaved"] is False and body["ownerId"] == alex.id
    assert [a["id"] for a in body["assets"]] == [a1, a2]  # oldest first; the stranger's left out
    asset = body["assets"][0]
    assert list(asset) == ASSET_KEYS
    assert asset["fileCreatedAt"] == "2020-06-01T10:00:00.18+00:00"  # PostgreSQL's JSON form
    assert asset["isFavorite"] is True and asset["people"] == []
    r = await client.get(f"/api/memories/{body['id']}", headers=alex.headers)
    assert r.status_code == 200 and await r.get_json() == body
    r = await client.get("/api/memories", headers=alex.headers)
    assert await r.get_json() == [body]
    r = await client.get("/api/memories", headers=bo.headers)
    assert await r.get_json() == []
    r = await client.get(f"/api/memories/{body['id']}", headers=bo.headers)
    assert r.status_code == 400 and (await r.get_json())["message"] == "Not found or no memory.read access"


async def test_show_and_hide_dates_and_filters(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    a1 = insert_asset(sql, alex.id, D1)
    shown = await _create(client, alex, _memory(
        assetIds=[a1], showAt="2025-06-01T00:00:00.000Z", hideAt="2025-06-01T23:59:59.999Z", isSaved=True,
    ))  # fmt: skip
    assert shown["showAt"] == "2025-06-01T00:00:00.000Z" and shown["hideAt"] == "2025-06-01T23:59:59.999Z"
    assert list(shown)[:8] == ["id", "createdAt", "updatedAt", "memoryAt", "showAt", "hideAt", "ownerId", "type"]
    always = await _create(client, alex, _memory(memoryAt="2023-01-01T00:00:00.000Z"))

    async def ids(query: str) -> list[str]:
        r = await client.get(f"/api/memories{query}", headers=alex.headers)
        assert r.status_code == 200, await r.get_json()
        return [m["id"] for m in await r.get_json()]

    assert await ids("") == [shown["id"], always["id"]]  # memoryAt desc
    assert await ids("?order=asc") == [always["id"], shown["id"]]
    assert await ids("?for=2025-06-01") == [shown["id"], always["id"]]
    assert await ids("?for=2025-06-02") == [always["id"]]
    assert await ids("?isSaved=true") == [shown["id"]]
    assert await ids("?size=1") == [shown["id"]]
    assert await ids("?type=on_this_day&isTrashed=true") == []
    r = await client.get("/api/memories/statistics?for=2025-06-02", headers=alex.headers)
    assert await r.get_json() == {"total": 1}
    r = await client.get("/api/memories/statistics", headers=alex.headers)
    assert await r.get_json() == {"total": 2}
    r = await client.get("/api/memories?for=2025-13-01", headers=alex.headers)
    assert r.status_code == 400


async def test_hidden_trashed_and_locked_assets_are_left_out(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    kept = insert_asset(sql, alex.id, D1)
    gone = [
        insert_asset(sql, alex.id, D1, visibility="archive"),
        insert_asset(sql, alex.id, D1, visibility="hidden"),
        insert_asset(sql, alex.id, D1, visibility="locked"),
        insert_asset(sql, alex.id, D1, deleted=True),
    ]
    memory = await _create(client, alex, _memory(assetIds=[kept]))
    for asset_id in gone:
        sql('INSERT INTO memory_asset ("memoriesId", "assetId") VALUES (%s, %s)', (memory["id"], asset_id))
    r = await client.get(f"/api/memories/{memory['id']}", headers=alex.headers)
    assert [a["id"] for a in (await r.get_json())["assets"]] == [kept]
    # a memory whose every asset is left out leaves the list and the statistics
    emptied = await _create(client, alex, _memory())
    sql('INSERT INTO memory_asset ("memoriesId", "assetId") VALUES (%s, %s)', (emptied["id"], gone[0]))
    r = await client.get("/api/memories", headers=alex.headers)
    assert [m["id"] for m in await r.get_json()] == [memory["id"]]
    r = await client.get("/api/memories/statistics", headers=alex.headers)
    assert await r.get_json() == {"total": 1}


async def test_update_and_delete(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    memory = await _create(client, alex, _memory())
    body = {"isSaved": True, "seenAt": "2025-01-02T03:04:05.000Z", "memoryAt": "2022-06-01T00:00:00.000Z"}
    r = await client.put(f"/api/memories/{memory['id']}", json=body, headers=bo.headers)
    assert r.status_code == 400 and (await r.get_json())["message"] == "Not found or no memory.update access"
    r = await client.put(f"/api/memories/{memory['id']}", json=body, headers=alex.headers)
    updated = await r.get_json()
    assert r.status_code == 200
    assert updated["isSaved"] is True and updated["seenAt"] == "2025-01-02T03:04:05.000Z"
    assert updated["memoryAt"] == "2022-06-01T00:00:00.000Z"
    assert list(updated).index("seenAt") == 4
    r = await client.put(f"/api/memories/{memory['id']}", json={"isSaved": "yes"}, headers=alex.headers)
    assert r.status_code == 400
    r = await client.delete(f"/api/memories/{memory['id']}", headers=bo.headers)
    assert r.status_code == 400 and (await r.get_json())["message"] == "Not found or no memory.delete access"
    r = await client.delete(f"/api/memories/{memory['id']}", headers=alex.headers)
    assert r.status_code == 204
    assert sql("SELECT count(*) FROM memory") == [(0,)]
    assert sql('SELECT "memoryId" FROM memory_audit') == [(uuid.UUID(memory["id"]),)]
    r = await client.get(f"/api/memories/{memory['id']}", headers=alex.headers)
    assert r.status_code == 400


async def test_add_and_remove_assets_per_id(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    foreign = insert_asset(sql, bo.id, D1)
    unknown = str(uuid.uuid4())
    memory = await _create(client, alex, _memory(assetIds=[a1]))
    path = f"/api/memories/{memory['id']}/assets"
    r = await client.put(path, json={"ids": [a1, a2, a2, foreign, unknown]}, headers=alex.headers)
    assert r.status_code == 200
    assert await r.get_json() == [
        {"id": a1, "success": False, "error": "duplicate"},
        {"id": a2, "success": True},
        {"id": a2, "success": False, "error": "duplicate"},
        {"id": foreign, "success": False, "error": "no_permission"},
        {"id": unknown, "success": False, "error": "no_permission"},
    ]
    r = await client.put(path, json={"ids": [a1]}, headers=bo.headers)
    assert r.status_code == 400 and (await r.get_json())["message"] == "Not found or no memory.read access"
    r = await client.delete(path, json={"ids": [a1]}, headers=bo.headers)
    assert r.status_code == 400 and (await r.get_json())["message"] == "Not found or no memory.update access"
    r = await client.delete(path, json={"ids": [a1, a1, foreign]}, headers=alex.headers)
    assert await r.get_json() == [
        {"id": a1, "success": True},
        {"id": a1, "success": False, "error": "not_found"},
        {"id": foreign, "success": False, "error": "not_found"},
    ]
    rows = sql('SELECT "assetId"::text FROM memory_asset WHERE "memoriesId" = %s', (memory["id"],))
    assert rows == [(a2,)]
    r = await client.put(path, json={"ids": ["not-a-uuid"]}, headers=alex.headers)
    assert r.status_code == 400
    assert sql('SELECT count(*) FROM memory_asset') == [(1,)]
