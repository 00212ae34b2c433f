"""Where ``SidecarWrite`` is queued (inside the request's transaction, one statement for many
assets): asset edits, one or many at once, and tagging or untagging assets; and the
``sidecar`` queue's start command, which queues ``SidecarQueueAll`` with its ``force``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tests.http.test_albums import insert_asset

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]
WHEN = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
JOBS = "SELECT data FROM immich_trio.job WHERE name = 'SidecarWrite' AND queue = 'sidecar' ORDER BY id"


async def test_tagging_and_untagging_queue_a_sidecar_write_per_changed_asset(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    me = await make_user("me@example.com")
    r = await client.put("/api/tags", json={"tags": ["People/Ana"]}, headers=me.headers)
    [tag] = await r.get_json()
    a, b = (insert_asset(sql, me.id, WHEN) for _ in range(2))
    url = f"/api/tags/{tag['id']}/assets"
    await client.put(url, json={"ids": [a, b]}, headers=me.headers)
    assert sorted(d["id"] for (d,) in sql(JOBS)) == sorted([a, b])
    assert all(d["tags"] is True for (d,) in sql(JOBS))

    sql("DELETE FROM immich_trio.job")
    await client.put(url, json={"ids": [a]}, headers=me.headers)  # duplicate: nothing changes
    assert sql(JOBS) == []
    await client.delete(url, json={"ids": [a]}, headers=me.headers)
    assert sql(JOBS) == [({"id": a, "tags": True},)]

    sql("DELETE FROM immich_trio.job")
    body = {"tagIds": [tag["id"]], "assetIds": [a, b]}
    r = await client.put("/api/tags/assets", json=body, headers=me.headers)
    assert await r.get_json() == {"count": 1}
    assert sql(JOBS) == [({"id": a, "tags": True},)]  # b had the tag already


async def test_bulk_edit_queues_one_sidecar_write_per_asset(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    me = await make_user("me@example.com")
    ids = [insert_asset(sql, me.id, WHEN) for _ in range(3)]
    r = await client.put("/api/assets", json={"ids": ids, "rating": 3}, headers=me.headers)
    assert r.status_code == 204, await r.get_data(as_text=True)
    assert [d for (d,) in sql(JOBS)] == [{"id": i, "rating": 3} for i in ids]
    [(asset_ids,)] = sql("SELECT array_agg(\"assetId\"::text ORDER BY id) FROM immich_trio.job")
    assert asset_ids == ids

    sql("DELETE FROM immich_trio.job")
    r = await client.put("/api/assets", json={"ids": ids, "isFavorite": True}, headers=me.headers)
    assert r.status_code == 204 and sql(JOBS) == []  # no exif change: no sidecar to write


async def test_starting_the_sidecar_queue_queues_sidecar_discovery_with_its_force(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    r = await client.put("/api/jobs/sidecar", json={"command": "start", "force": False}, headers=admin.headers)
    assert r.status_code == 200, await r.get_data(as_text=True)
    body = await r.get_json()
    assert body["jobCounts"]["waiting"] == 1
    assert body["queueStatus"] == {"isActive": False, "isPaused": False}
    assert sql("SELECT queue, name, data FROM immich_trio.job") == [
        ("sidecar", "SidecarQueueAll", {"force": False})
    ]
    sql("DELETE FROM immich_trio.job")
    r = await client.put("/api/jobs/sidecar", json={"command": "start", "force": True}, headers=admin.headers)
    assert r.status_code == 200
    assert sql("SELECT name, data FROM immich_trio.job") == [("SidecarQueueAll", {"force": True})]

    me = await make_user("me@example.com")
    r = await client.put("/api/jobs/sidecar", json={"command": "start"}, headers=me.headers)
    assert r.status_code == 403  # admin only
