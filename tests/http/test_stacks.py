"""The Stacks tag: create (merging the caller's stacks), search, get, update the primary, delete one
and many, remove an asset; Immich's errors and events; the asset's ``stack`` and ``withStacked``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_trio.runtime import Runtime
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser, UserCreds, next_event

Sql = Callable[..., list[tuple[Any, ...]]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"
STACK_KEYS = ["id", "primaryAssetId", "assets"]


def _assets(sql: Sql, user: UserCreds, media: Path, count: int, prefix: str = "p") -> list[str]:
    return [_asset(sql, user.id, media, f"{prefix}{i}.jpg", "IMAGE") for i in range(count)]


def _stack_ids(sql: Sql, asset_ids: list[str]) -> list[str | None]:
    rows = dict(sql('SELECT id::text, "stackId"::text FROM asset WHERE id = ANY(%s::uuid[])', (asset_ids,)))
    return [rows[a] for a in asset_ids]


async def _create(client: Any, user: UserCreds, ids: list[str]) -> Any:
    response = await client.post("/api/stacks", headers=user.headers, json={"assetIds": ids})
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


async def test_create_get_search_update_delete(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    a, b, c = _assets(sql, alex, runtime.settings.media_location, 3)
    body = await _create(client, alex, [b, a, c])
    assert list(body) == STACK_KEYS
    stack = body["id"]
    assert body["primaryAssetId"] == b
    assert body["assets"][0]["id"] == b and sorted(x["id"] for x in body["assets"]) == sorted([a, b, c])
    # create loads no tags and no stack; people are always there
    first = body["assets"][0]
    assert "tags" not in first and "stack" not in first and first["people"] == []
    assert first["exifInfo"]["description"] == "exif"
    assert _stack_ids(sql, [a, b, c]) == [stack] * 3

    response = await client.get(f"/api/stacks/{stack}", headers=alex.headers)
    got = await response.get_json()
    assert response.status_code == 200 and got["assets"][0]["tags"] == []
    assert got["assets"][0]["id"] == b

    response = await client.get(f"/api/stacks?primaryAssetId={b}", headers=alex.headers)
    assert [s["id"] for s in await response.get_json()] == [stack]
    response = await client.get(f"/api/stacks?primaryAssetId={a}", headers=alex.headers)
    assert await response.get_json() == []
    response = await client.get("/api/stacks", headers=alex.headers)
    assert [s["id"] for s in await response.get_json()] == [stack]

    # the asset shows its stack
    response = await client.get(f"/api/assets/{a}", headers=alex.headers)
    assert (await response.get_json())["stack"] == {"id": stack, "primaryAssetId": b, "assetCount": 3}

    response = await client.put(f"/api/stacks/{stack}", headers=alex.headers, json={"primaryAssetId": c})
    body = await response.get_json()
    assert response.status_code == 200 and body["primaryAssetId"] == c and body["assets"][0]["id"] == c
    response = await client.put(f"/api/stacks/{stack}", headers=alex.headers, json={})
    assert (await response.get_json())["primaryAssetId"] == c
    # Immich's hidden PATCH twin of the update
    response = await client.patch(f"/api/stacks/{stack}", headers=alex.headers, json={"primaryAssetId": a})
    assert (response.status_code, (await response.get_json())["primaryAssetId"]) == (200, a)
    await client.put(f"/api/stacks/{stack}", headers=alex.headers, json={"primaryAssetId": c})
    response = await client.put(f"/api/stacks/{stack}", headers=alex.headers, json={"primaryAssetId": MISSING_ID})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Primary asset must be in the stack"})

    response = await client.delete(f"/api/stacks/{stack}", headers=alex.headers)
    assert response.status_code == 204
    assert _stack_ids(sql, [a, b, c]) == [None] * 3
    assert sql('SELECT "stackId"::text, "userId"::text FROM stack_audit') == [(stack, alex.id)]
    response = await client.get(f"/api/stacks/{stack}", headers=alex.headers)
    assert (response.status_code, await response.get_json()) == (400, {"message": "Not found or no stack.read access"})


async def test_create_merges_stacks_whose_primary_is_included(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    a, b, c, d, e = _assets(sql, alex, runtime.settings.media_location, 5)
    await _create(client, alex, [a, b])
    other = (await _create(client, alex, [c, d]))["id"]
    # a is old's primary: old is merged (b comes along); d is only a member of ``other``: it moves alone
    new = await _create(client, alex, [e, a, d])
    assert new["primaryAssetId"] == e
    assert sorted(x["id"] for x in new["assets"]) == sorted([a, b, d, e])
    assert _stack_ids(sql, [a, b, c, d, e]) == [new["id"], new["id"], other, new["id"], new["id"]]
    assert sorted(r[0] for r in sql("SELECT id::text FROM stack")) == sorted([new["id"], other])
    # the primary of a stack may become a member of a new one: its stack goes
    newest = await _create(client, alex, [c, e])
    assert _stack_ids(sql, [a, b, c, d, e]) == [newest["id"]] * 5
    assert [r[0] for r in sql("SELECT id::text FROM stack")] == [newest["id"]]


async def test_remove_asset(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    a, b, c, lone = _assets(sql, alex, runtime.settings.media_location, 4)
    stack = (await _create(client, alex, [a, b, c]))["id"]
    for asset, message in ((a, "Cannot remove stack's primary asset"), (lone, "Asset not in stack"),
                           (MISSING_ID, "Asset not in stack")):
        response = await client.delete(f"/api/stacks/{stack}/assets/{asset}", headers=alex.headers)
        assert (response.status_code, await response.get_json()) == (400, {"message": message})
    response = await client.delete(f"/api/stacks/{stack}/assets/{b}", headers=alex.headers)
    assert response.status_code == 204
    assert _stack_ids(sql, [a, b, c]) == [stack, None, stack]
    # Immich keeps a stack left with its primary alone (only asset deletion dissolves one)
    response = await client.delete(f"/api/stacks/{stack}/assets/{c}", headers=alex.headers)
    assert response.status_code == 204
    assert _stack_ids(sql, [a, c]) == [stack, None]
    response = await client.get(f"/api/stacks/{stack}", headers=alex.headers)
    assert [x["id"] for x in (await response.get_json())["assets"]] == [a]


async def test_bad_input(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    ana = await make_user("ana@example.com")
    media = runtime.settings.media_location
    a, b = _assets(sql, alex, media, 2)
    [theirs] = _assets(sql, ana, media, 1, prefix="ana")
    # one asset: the spec's minimum
    response = await client.post("/api/stacks", headers=alex.headers, json={"assetIds": [a]})
    body = await response.get_json()
    assert response.status_code == 400 and body["message"] == "Validation failed"
    # malformed ids
    response = await client.post("/api/stacks", headers=alex.headers, json={"assetIds": [a, "nope"]})
    assert response.status_code == 400
    for ids in ([a, theirs], [a, MISSING_ID]):
        response = await client.post("/api/stacks", headers=alex.headers, json={"assetIds": ids})
        assert (response.status_code, await response.get_json()) == (
            400, {"message": "Not found or no asset.update access"})
    assert sql("SELECT count(*) FROM stack") == [(0,)] and _stack_ids(sql, [a, b, theirs]) == [None] * 3
    # duplicates are one asset
    body = await _create(client, alex, [a, b, a, b])
    assert sorted(x["id"] for x in body["assets"]) == sorted([a, b])
    # other users' stacks and unknown ones
    stack = body["id"]
    for method, path, json in (("GET", f"/api/stacks/{stack}", None), ("PUT", f"/api/stacks/{stack}", {}),
                               ("DELETE", f"/api/stacks/{stack}", None),
                               ("DELETE", f"/api/stacks/{stack}/assets/{b}", None),
                               ("DELETE", "/api/stacks", {"ids": [stack]})):
        response = await client.open(path, method=method, headers=ana.headers, json=json)
        assert response.status_code == 400, (method, path)
    response = await client.delete("/api/stacks", headers=alex.headers, json={"ids": [stack, MISSING_ID]})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Not found or no stack.delete access"})
    assert _stack_ids(sql, [a, b]) == [stack, stack]
    response = await client.get("/api/stacks", headers=ana.headers)
    assert await response.get_json() == []


async def test_thousand_asset_stack_and_thousand_stacks_deleted(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",'
        ' checksum, "checksumAlgorithm", "originalFileName")'
        " SELECT %s, 'IMAGE', '/x/' || g, now(), now(), now(), sha256(g::text::bytea), 'sha1', g || '.jpg'"
        " FROM generate_series(1, 2000) g",
        (alex.id,),
    )
    sql('INSERT INTO asset_exif ("assetId") SELECT id FROM asset')
    ids = [r[0] for r in sql('SELECT id::text FROM asset ORDER BY "originalFileName"')]
    body = await _create(client, alex, ids[:1000])
    assert len(body["assets"]) == 1000 and body["primaryAssetId"] == ids[0]
    response = await client.delete("/api/stacks", headers=alex.headers, json={"ids": [body["id"]]})
    assert response.status_code == 204
    # 1,000 stacks of two, then all deleted at once
    sql(
        'WITH s AS (INSERT INTO stack ("ownerId", "primaryAssetId")'
        ' SELECT %s, id FROM asset WHERE "originalFileName" ~ %s RETURNING id, "primaryAssetId")'
        ' UPDATE asset a SET "stackId" = s.id FROM s WHERE a.id = s."primaryAssetId"',
        (alex.id, "^[0-9]*[02468][.]"),
    )
    stacks = [r[0] for r in sql("SELECT id::text FROM stack")]
    assert len(stacks) == 1000
    response = await client.delete("/api/stacks", headers=alex.headers, json={"ids": stacks})
    assert response.status_code == 204
    assert sql("SELECT count(*) FROM stack") == [(0,)]
    assert sql('SELECT count(*) FROM asset WHERE "stackId" IS NOT NULL') == [(0,)]


async def test_every_change_tells_the_owner(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, relay: Any
) -> None:
    alex = await make_user("alex@example.com")
    a, b, c = _assets(sql, alex, runtime.settings.media_location, 3)
    sub = runtime.hub.attach(user_id=alex.id, session_id=None)
    stack = (await _create(client, alex, [a, b, c]))["id"]
    assert await next_event(sub) == ["on_asset_stack_update"]
    await client.put(f"/api/stacks/{stack}", headers=alex.headers, json={"primaryAssetId": b})
    assert await next_event(sub) == ["on_asset_stack_update"]
    await client.delete(f"/api/stacks/{stack}/assets/{c}", headers=alex.headers)
    assert await next_event(sub) == ["on_asset_stack_update"]
    await client.delete(f"/api/stacks/{stack}", headers=alex.headers)
    assert await next_event(sub) == ["on_asset_stack_update"]
    stack = (await _create(client, alex, [a, b]))["id"]
    assert await next_event(sub) == ["on_asset_stack_update"]
    await client.delete("/api/stacks", headers=alex.headers, json={"ids": [stack]})
    assert await next_event(sub) == ["on_asset_stack_update"]


async def test_timeline_with_stacked(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    """Only primaries (and unstacked assets) stand in the timeline; the count is of the stack's
    live timeline assets (a trashed or archived member is not counted)."""
    alex = await make_user("alex@example.com")
    a, b, c, d, lone = _assets(sql, alex, runtime.settings.media_location, 5)
    stack = (await _create(client, alex, [b, a, c, d]))["id"]
    sql("UPDATE asset SET \"deletedAt\" = now(), status = 'trashed' WHERE id = %s", (c,))
    sql("UPDATE asset SET visibility = 'archive' WHERE id = %s", (d,))
    query = {"timeBucket": "2024-01-01", "withStacked": "true"}
    response = await client.get("/api/timeline/bucket", headers=alex.headers, query_string=query)
    body = await response.get_json()
    shown = dict(zip(body["id"], body["stack"], strict=True))
    assert shown == {b: [stack, "2"], lone: None}
    response = await client.get("/api/timeline/buckets", headers=alex.headers, query_string={"withStacked": "true"})
    assert await response.get_json() == [{"timeBucket": "2024-01-01", "count": 2}]


async def test_deleting_a_primary_asset_hands_over_or_dissolves_its_stack(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    """As Immich's asset deletion: a stack of three gets another primary, one of two goes."""
    from immich_trio.sql import trash

    alex = await make_user("alex@example.com")
    a, b, c, d, e = _assets(sql, alex, runtime.settings.media_location, 5)
    three = (await _create(client, alex, [a, b, c]))["id"]
    two = (await _create(client, alex, [d, e]))["id"]
    for asset in (a, d):
        async with runtime.pool.connection() as conn, conn.transaction():
            assert await trash.delete_asset(conn, asset, delete_on_disk=False) is not None
    assert sql('SELECT id::text, "primaryAssetId"::text FROM stack') == [(three, b)]
    assert _stack_ids(sql, [b, c, e]) == [three, three, None]
    assert [r[0] for r in sql('SELECT "stackId"::text FROM stack_audit')] == [two]
