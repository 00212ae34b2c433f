"""The Sync tag over HTTP, driven by tests/sync_client.py (a client written from the protocol)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from immich_trio.http import sync_stream
from immich_trio.runtime import Runtime
from immich_trio.sql.sync import stream as sync_sql
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser, UserCreds
from tests.sync_client import MOBILE_TYPES, SyncClient

Sql = Callable[..., list[tuple[Any, ...]]]


def _own_assets(sql: Sql, user: UserCreds) -> set[str]:
    return {r[0] for r in sql('SELECT id::text FROM asset WHERE "ownerId" = %s', (user.id,))}


def _store_ids(sync: SyncClient, owner: str) -> set[str]:
    return {k for k, v in sync.table("assets").items() if v["ownerId"] == owner}


async def _albums(client: Any, user: UserCreds) -> set[str]:
    response = await client.get("/api/albums", headers=user.headers)
    mine = {a["id"] for a in await response.get_json()}
    response = await client.get("/api/albums?shared=true", headers=user.headers)
    return mine | {a["id"] for a in await response.get_json()}


async def test_session_only_and_validation(client: Any, make_user: MakeUser) -> None:
    alex = await make_user("alex@example.com")
    response = await client.post(
        "/api/api-keys", headers=alex.headers, json={"name": "k", "permissions": ["all"]}
    )
    key = (await response.get_json())["secret"]
    for method, path in (
        ("post", "/api/sync/stream"),
        ("get", "/api/sync/ack"),
        ("delete", "/api/sync/ack"),
    ):
        response = await getattr(client, method)(
            path, headers={"x-api-key": key}, json={"types": ["UsersV1"]}
        )
        assert response.status_code == 403
        assert (await response.get_json())[
            "message"
        ] == "Sync endpoints cannot be used with API keys"
    response = await client.post("/api/sync/stream", headers=alex.headers, json={"types": ["Nope"]})
    assert response.status_code == 400
    response = await client.post(
        "/api/sync/stream", headers=alex.headers, json={"types": ["AssetsV1"]}
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == (
        "SyncRequestType.AssetsV1 is deprecated, use SyncRequestType.AssetsV2 instead"
    )
    response = await client.post("/api/sync/ack", headers=alex.headers, json={"acks": ["Bogus|x"]})
    assert (
        response.status_code == 400
        and (await response.get_json())["message"] == "Invalid ack type: Bogus"
    )
    acks = [
        "UserV1|0190a7c4-0000-7000-8000-000000000000",
        "AssetV2|0190a7c4-0000-7000-8000-000000000001",
    ]
    response = await client.post("/api/sync/ack", headers=alex.headers, json={"acks": acks})
    assert response.status_code == 204
    response = await client.get("/api/sync/ack", headers=alex.headers)
    assert await response.get_json() == [
        {"type": "AssetV2", "ack": acks[1]},
        {"type": "UserV1", "ack": acks[0]},
    ]
    response = await client.delete(
        "/api/sync/ack", headers=alex.headers, json={"types": ["UserV1"]}
    )
    assert response.status_code == 204
    response = await client.get("/api/sync/ack", headers=alex.headers)
    assert [a["type"] for a in await response.get_json()] == ["AssetV2"]
    response = await client.post(
        "/api/sync/ack", headers=alex.headers, json={"acks": ["SyncResetV1|reset"]}
    )
    response = await client.get("/api/sync/ack", headers=alex.headers)
    assert await response.get_json() == []


async def test_line_format_and_order(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    asset = _asset(sql, alex.id, runtime.settings.media_location, "a.jpg", "IMAGE")
    response = await client.post(
        "/api/sync/stream",
        headers=alex.headers,
        json={"types": ["AssetExifsV1", "AssetsV2", "AuthUsersV1"]},
    )
    raw = (await response.get_data()).decode()
    lines = raw.splitlines()
    assert [json.loads(x)["type"] for x in lines] == [
        "AuthUserV1",
        "AssetV2",
        "AssetExifV1",
        "SyncCompleteV1",
    ]
    assert lines[1].startswith('{"type":"AssetV2","data":{"id":"' + asset + '","ownerId":')
    data = json.loads(lines[1])["data"]
    assert list(data)[:8] == [
        "id",
        "ownerId",
        "originalFileName",
        "thumbhash",
        "checksum",
        "fileCreatedAt",
        "fileModifiedAt",
        "createdAt",
    ]
    assert data["fileCreatedAt"] == "2024-01-15T00:00:00.000Z" and len(data["checksum"]) == 28
    assert (
        "updateId" not in data and data["isFavorite"] is False and data["visibility"] == "timeline"
    )
    auth = json.loads(lines[0])["data"]
    assert auth["id"] == alex.id and auth["hasProfileImage"] is False and auth["isAdmin"] is False
    assert json.loads(lines[-1])["ack"].startswith("SyncCompleteV1|")


async def test_sync_follows_changes(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    bea = await make_user("bea@example.com")
    media = runtime.settings.media_location
    mine = [_asset(sql, alex.id, media, f"a{i}.jpg", "IMAGE") for i in range(5)]
    hers = [_asset(sql, bea.id, media, f"b{i}.jpg", "IMAGE") for i in range(3)]
    phone = SyncClient(client, alex.headers)

    first = await phone.sync()
    assert first[-1]["type"] == "SyncCompleteV1"
    assert _store_ids(phone, alex.id) == _own_assets(sql, alex) == set(mine)
    assert set(phone.table("users")) == {alex.id, bea.id}
    assert set(phone.table("exifs")) == set(mine)
    assert [x["type"] for x in await phone.sync()] == ["SyncCompleteV1"]  # nothing twice

    # edit and favourite
    await client.put(
        f"/api/assets/{mine[0]}",
        headers=alex.headers,
        json={"isFavorite": True, "description": "hi"},
    )
    lines = await phone.sync()
    assert phone.table("assets")[mine[0]]["isFavorite"] is True
    assert phone.table("exifs")[mine[0]]["description"] == "hi"
    assert {x["type"] for x in lines} == {"AssetV2", "AssetExifV1", "SyncCompleteV1"}

    # trash then delete for good
    await client.delete("/api/assets", headers=alex.headers, json={"ids": [mine[1]]})
    await phone.sync()
    assert phone.table("assets")[mine[1]]["deletedAt"] is not None
    # the delete job removes the row; the schema's trigger writes asset_audit
    sql("DELETE FROM asset WHERE id = %s", (mine[2],))
    lines = await phone.sync()
    assert mine[2] not in phone.table("assets")
    assert _store_ids(phone, alex.id) == _own_assets(sql, alex)

    # a partner shares with alex: backfill of her older assets
    await client.post("/api/partners", headers=bea.headers, json={"sharedWithId": alex.id})
    await phone.sync()
    assert (bea.id, alex.id) in phone.table("partners")
    assert _store_ids(phone, bea.id) == set(hers)
    await client.delete(f"/api/partners/{alex.id}", headers=bea.headers)
    await phone.sync()
    assert (bea.id, alex.id) not in phone.table("partners")

    # an album shared with alex, assets added and removed
    response = await client.post(
        "/api/albums", headers=bea.headers, json={"albumName": "trip", "assetIds": hers[:2]}
    )
    album = (await response.get_json())["id"]
    await client.put(
        f"/api/albums/{album}/users",
        headers=bea.headers,
        json={"albumUsers": [{"userId": alex.id, "role": "viewer"}]},
    )
    await phone.sync()
    assert set(phone.table("albums")) == await _albums(client, alex) == {album}
    assert {p for p in phone.table("album_assets")} == {(album, h) for h in hers[:2]}
    assert (album, alex.id) in phone.table("album_users")
    await client.put(f"/api/albums/{album}/assets", headers=bea.headers, json={"ids": [hers[2]]})
    await client.delete(f"/api/albums/{album}/assets", headers=bea.headers, json={"ids": [hers[0]]})
    await phone.sync()
    assert set(phone.table("album_assets")) == {(album, hers[1]), (album, hers[2])}
    assert phone.table("assets")[hers[2]]["isFavorite"] is False
    await client.delete(f"/api/albums/{album}/user/{alex.id}", headers=bea.headers)
    await phone.sync()
    assert phone.table("albums") == {} and await _albums(client, alex) == set()

    # stack, memory and user metadata
    response = await client.post(
        "/api/stacks", headers=alex.headers, json={"assetIds": [mine[3], mine[4]]}
    )
    stack = (await response.get_json())["id"]
    await client.put(
        "/api/users/me/preferences", headers=alex.headers, json={"folders": {"enabled": True}}
    )
    response = await client.post(
        "/api/memories",
        headers=alex.headers,
        json={
            "type": "on_this_day",
            "data": {"year": 2020},
            "memoryAt": "2024-01-15T00:00:00.000Z",
            "assetIds": [mine[3]],
        },
    )
    memory = (await response.get_json())["id"]
    await phone.sync()
    assert stack in phone.table("stacks") and phone.table("assets")[mine[3]]["stackId"] == stack
    assert (alex.id, "preferences") in phone.table("user_metadata")
    assert phone.table("memories")[memory]["data"] == {"year": 2020}
    assert (memory, mine[3]) in phone.table("memory_assets")
    await client.delete(f"/api/stacks/{stack}", headers=alex.headers)
    await client.delete(f"/api/memories/{memory}", headers=alex.headers)
    await phone.sync()
    assert stack not in phone.table("stacks") and memory not in phone.table("memories")
    assert [x["type"] for x in await phone.sync()] == ["SyncCompleteV1"]


async def test_two_sessions_and_reset(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    [(token_hash,)] = sql('SELECT token FROM session WHERE "userId" = %s', (alex.id,))
    from immich_trio import crypto

    token = crypto.new_token()
    sql(
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
        (crypto.hash_token(token), alex.id, "pytest", "Linux"),
    )
    phone = SyncClient(client, alex.headers)
    tablet = SyncClient(client, {"Authorization": f"Bearer {token}"})
    _asset(sql, alex.id, runtime.settings.media_location, "a.jpg", "IMAGE")
    await phone.sync()
    lines = await tablet.sync()
    assert any(x["type"] == "AssetV2" for x in lines)
    assert phone.store["assets"] == tablet.store["assets"]
    sql('UPDATE session SET "isPendingSyncReset" = true WHERE token = %s', (token_hash,))
    lines = await phone.sync()
    assert [x["type"] for x in lines] == ["SyncResetV1"]
    lines = await phone.sync()
    assert any(x["type"] == "AssetV2" for x in lines)
    assert [x["type"] for x in await tablet.sync()] == ["SyncCompleteV1"]
    lines = await tablet.sync(reset=True)
    assert any(x["type"] == "AssetV2" for x in lines)


async def test_change_during_stream_is_not_lost(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    alex = await make_user("alex@example.com")
    media = runtime.settings.media_location
    for i in range(4):
        _asset(sql, alex.id, media, f"a{i}.jpg", "IMAGE")
    monkeypatch.setattr(sync_sql, "PAGE_ROWS", 2)
    late: list[str] = []
    real_rows = sync_sql.stream_rows

    async def rows_then_commit(conn: Any, query: str, params: Any, **kw: Any) -> Any:
        first = True
        async for page in real_rows(conn, query, params, **kw):
            yield page
            if first and not late:
                # a change committed by someone else between two pages of this stream
                late.append(_asset(sql, alex.id, media, "late.jpg", "IMAGE"))
            first = False

    monkeypatch.setattr(sync_stream.q, "stream_rows", rows_then_commit)
    phone = SyncClient(client, alex.headers)
    await phone.sync(["AssetsV2"])
    assert late and late[0] not in phone.table("assets")
    await phone.sync(["AssetsV2"])
    assert late[0] in phone.table("assets")
    assert _store_ids(phone, alex.id) == _own_assets(sql, alex)


def test_mobile_types_are_all_handled() -> None:
    assert all(sync_stream.HANDLERS[name] is not None for name in MOBILE_TYPES)
