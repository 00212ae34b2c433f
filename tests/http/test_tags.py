"""The Tags tag: the 9 operations, hierarchy and closure, per-id and bulk tagging, the
timeline's ``tagId`` filter and the asset's ``tags``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tests.http.test_albums import insert_asset

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]

# Immich v3.1's GET /tags, recorded: a child tag's keys and their order.
TAG_KEYS = ["id", "parentId", "name", "value", "createdAt", "updatedAt"]
WHEN = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


async def _upsert(client: Any, user: Any, tags: list[str]) -> list[dict[str, Any]]:
    r = await client.put("/api/tags", json={"tags": tags}, headers=user.headers)
    assert r.status_code == 200, await r.get_json()
    body: list[dict[str, Any]] = await r.get_json()
    return body


def _closure(sql: Sql, user_id: str) -> set[tuple[str, str]]:
    rows = sql(
        "SELECT a.value, d.value FROM tag_closure c JOIN tag a ON a.id = c.id_ancestor"
        ' JOIN tag d ON d.id = c.id_descendant WHERE d."userId" = %s',
        (user_id,),
    )
    return {(a, d) for a, d in rows}


async def test_upsert_creates_parents_and_closure(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    tags = await _upsert(client, me, ["Travel/Italy/Rome", "/Nature//Birds/", "Travel/Italy/Rome", "", "/"])
    assert [t["value"] for t in tags] == ["Travel/Italy/Rome", "Nature/Birds"]
    assert list(tags[0]) == TAG_KEYS
    assert tags[0]["name"] == "Rome" and tags[0]["createdAt"].endswith("Z")
    listed = await (await client.get("/api/tags", headers=me.headers)).get_json()
    by_value = {t["value"]: t for t in listed}
    assert list(by_value) == ["Nature", "Nature/Birds", "Travel", "Travel/Italy", "Travel/Italy/Rome"]
    assert "parentId" not in by_value["Travel"]
    assert by_value["Travel/Italy"]["parentId"] == by_value["Travel"]["id"]
    assert by_value["Travel/Italy/Rome"]["parentId"] == by_value["Travel/Italy"]["id"]
    assert _closure(sql, me.id) == {
        ("Nature", "Nature"), ("Nature/Birds", "Nature/Birds"), ("Nature", "Nature/Birds"),
        ("Travel", "Travel"), ("Travel/Italy", "Travel/Italy"), ("Travel/Italy/Rome", "Travel/Italy/Rome"),
        ("Travel", "Travel/Italy"), ("Travel", "Travel/Italy/Rome"), ("Travel/Italy", "Travel/Italy/Rome"),
    }
    # Upserting again adds nothing; another user's tags are theirs.
    again = await _upsert(client, me, ["Travel/Italy/Rome"])
    assert again[0]["id"] == tags[0]["id"]
    assert sql('SELECT count(*) FROM tag WHERE "userId" = %s', (me.id,)) == [(5,)]
    other = await make_user("other@example.com")
    assert (await _upsert(client, other, ["Travel"]))[0]["id"] != by_value["Travel"]["id"]
    assert await _upsert(client, me, []) == []


async def test_create_get_update_delete(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    other = await make_user("other@example.com")
    r = await client.post("/api/tags", json={"name": "Travel", "color": "ff0000"}, headers=me.headers)
    assert r.status_code == 201
    travel = await r.get_json()
    assert list(travel) == ["id", "name", "value", "createdAt", "updatedAt", "color"]
    assert travel["color"] == "#ff0000"
    r = await client.post("/api/tags", json={"name": "Italy", "parentId": travel["id"]}, headers=me.headers)
    italy = await r.get_json()
    assert (italy["value"], italy["parentId"]) == ("Travel/Italy", travel["id"])
    assert ("Travel", "Travel/Italy") in _closure(sql, me.id)
    r = await client.post("/api/tags", json={"name": "Italy", "parentId": travel["id"]}, headers=me.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "A tag with that name already exists"})
    r = await client.post("/api/tags", json={"name": "X", "parentId": travel["id"]}, headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.read access"})
    r = await client.post("/api/tags", json={"name": "X", "color": "red"}, headers=me.headers)
    assert r.status_code == 400

    assert (await (await client.get(f"/api/tags/{italy['id']}", headers=me.headers)).get_json()) == italy
    r = await client.get(f"/api/tags/{italy['id']}", headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.read access"})
    r = await client.get(f"/api/tags/{uuid.uuid4()}", headers=me.headers)
    assert r.status_code == 400

    r = await client.put(f"/api/tags/{italy['id']}", json={"color": "#00ff00"}, headers=me.headers)
    assert (await r.get_json())["color"] == "#00ff00"
    r = await client.put(f"/api/tags/{italy['id']}", json={"color": None}, headers=me.headers)
    assert "color" not in await r.get_json()
    r = await client.put(f"/api/tags/{italy['id']}", json={"color": "#00ff00"}, headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.update access"})

    # Deleting the parent deletes the child, the closure and the asset links.
    asset = insert_asset(sql, me.id, WHEN)
    sql('INSERT INTO tag_asset ("tagId", "assetId") VALUES (%s, %s)', (italy["id"], asset))
    r = await client.delete(f"/api/tags/{travel['id']}", headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.delete access"})
    r = await client.delete(f"/api/tags/{travel['id']}", headers=me.headers)
    assert r.status_code == 204
    assert sql('SELECT count(*) FROM tag WHERE "userId" = %s', (me.id,)) == [(0,)]
    assert sql("SELECT count(*) FROM tag_closure") == [(0,)]
    assert sql("SELECT count(*) FROM tag_asset") == [(0,)]


async def test_tag_and_untag_per_id(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    other = await make_user("other@example.com")
    [tag] = await _upsert(client, me, ["People/Ana"])
    mine = [insert_asset(sql, me.id, WHEN) for _ in range(2)]
    theirs = insert_asset(sql, other.id, WHEN)
    unknown = str(uuid.uuid4())
    url = f"/api/tags/{tag['id']}/assets"
    r = await client.put(url, json={"ids": [mine[0], mine[0], theirs, unknown, mine[1]]}, headers=me.headers)
    assert await r.get_json() == [
        {"id": mine[0], "success": True},
        {"id": mine[0], "success": False, "error": "duplicate"},
        {"id": theirs, "success": False, "error": "no_permission"},
        {"id": unknown, "success": False, "error": "no_permission"},
        {"id": mine[1], "success": True},
    ]
    r = await client.put(url, json={"ids": [mine[0]]}, headers=me.headers)
    assert await r.get_json() == [{"id": mine[0], "success": False, "error": "duplicate"}]
    exif = sql('SELECT tags, "lockedProperties" FROM asset_exif WHERE "assetId" = %s', (mine[0],))
    assert exif == [(["People/Ana"], ["tags"])]
    r = await client.put(url, json={"ids": [mine[0]]}, headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.asset access"})

    info = await (await client.get(f"/api/assets/{mine[0]}", headers=me.headers)).get_json()
    assert [t["value"] for t in info["tags"]] == ["People/Ana"]
    assert list(info["tags"][0]) == TAG_KEYS

    r = await client.delete(url, json={"ids": [mine[0], mine[0], theirs]}, headers=me.headers)
    assert await r.get_json() == [
        {"id": mine[0], "success": True},
        {"id": mine[0], "success": False, "error": "not_found"},
        {"id": theirs, "success": False, "error": "not_found"},
    ]
    assert sql('SELECT tags FROM asset_exif WHERE "assetId" = %s', (mine[0],)) == [([],)]
    assert sql('SELECT "assetId"::text FROM tag_asset') == [(mine[1],)]


async def test_bulk_tag_many_assets(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    other = await make_user("other@example.com")
    tags = await _upsert(client, me, ["A", "B/C"])
    [foreign_tag] = await _upsert(client, other, ["Z"])
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " SELECT gen_random_uuid(), %s, 'IMAGE', '/nowhere/' || g, 'a.jpg', sha256(g::text::bytea),"
        " 'sha1', %s, %s, %s FROM generate_series(1, 10000) g",
        (me.id, WHEN, WHEN, WHEN),
    )
    ids = [str(i) for (i,) in sql('SELECT id FROM asset WHERE "ownerId" = %s', (me.id,))]
    theirs = insert_asset(sql, other.id, WHEN)
    body = {"tagIds": [t["id"] for t in tags] + [foreign_tag["id"]], "assetIds": [*ids, theirs, ids[0]]}
    r = await client.put("/api/tags/assets", json=body, headers=me.headers)
    assert await r.get_json() == {"count": 20000}
    r = await client.put("/api/tags/assets", json=body, headers=me.headers)
    assert await r.get_json() == {"count": 0}
    assert sql("SELECT count(*) FROM tag_asset") == [(20000,)]
    assert sql("SELECT count(*) FROM asset_exif WHERE tags = ARRAY['A', 'B/C']::varchar[]") == [(10000,)]
    r = await client.put("/api/tags/assets", json={"tagIds": [foreign_tag["id"]], "assetIds": ids[:3]},
                         headers=me.headers)
    assert await r.get_json() == {"count": 0}


async def test_timeline_tag_filter_includes_descendants(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    other = await make_user("other@example.com")
    tags = {t["value"]: t["id"] for t in await _upsert(client, me, ["Travel", "Travel/Italy", "Nature"])}
    in_parent, in_child, untagged = (insert_asset(sql, me.id, WHEN) for _ in range(3))
    await client.put(f"/api/tags/{tags['Travel']}/assets", json={"ids": [in_parent]}, headers=me.headers)
    await client.put(f"/api/tags/{tags['Travel/Italy']}/assets", json={"ids": [in_child]}, headers=me.headers)
    r = await client.get(f"/api/timeline/buckets?tagId={tags['Travel']}", headers=me.headers)
    assert await r.get_json() == [{"timeBucket": "2024-03-01", "count": 2}]
    r = await client.get(f"/api/timeline/bucket?timeBucket=2024-03-01&tagId={tags['Travel/Italy']}",
                         headers=me.headers)
    assert (await r.get_json())["id"] == [in_child]
    r = await client.get(f"/api/timeline/buckets?tagId={tags['Nature']}", headers=me.headers)
    assert await r.get_json() == []
    assert untagged
    r = await client.get(f"/api/timeline/buckets?tagId={tags['Travel']}", headers=other.headers)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Not found or no tag.read access"})


async def test_bad_input(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user("me@example.com")
    r = await client.put("/api/tags/assets", json={"tagIds": ["nope"], "assetIds": []}, headers=me.headers)
    assert r.status_code == 400
    r = await client.put("/api/tags", json={"tags": "a/b"}, headers=me.headers)
    assert r.status_code == 400
    # A deep path: every level, each with its whole chain of ancestors.
    deep = "/".join(f"l{i}" for i in range(60))
    [leaf] = await _upsert(client, me, [deep])
    assert leaf["name"] == "l59"
    assert sql('SELECT count(*) FROM tag WHERE "userId" = %s', (me.id,)) == [(60,)]
    assert sql("SELECT count(*) FROM tag_closure") == [(60 * 61 // 2,)]
    assert sql("SELECT count(*) FROM tag_closure c WHERE c.id_descendant = %s", (leaf["id"],)) == [(60,)]
