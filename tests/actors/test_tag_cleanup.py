"""``TagCleanup`` through the whole server: ``POST /api/jobs`` ``tag-cleanup`` queues it and the
janitor deletes every tag with no asset on it or below it, as Immich's ``deleteEmptyTags``."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import trio
from media_harness import Server, User, make_user, wait_for

from tests.actors.test_janitor import insert_asset

NO_JOBS = "SELECT name FROM immich_trio.job"


async def _put(server: Server, user: User, path: str, body: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.request("PUT", path, json=body, headers=user.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_tag_cleanup_keeps_tags_with_assets_on_them_or_below(server: Server) -> None:
    admin = await trio.to_thread.run_sync(
        partial(make_user, server.db_url, "admin@example.com", is_admin=True)
    )
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    await _put(
        server, user, "/api/tags",
        {"tags": ["Used/Child", "Parent/Unused", "Lonely", "Kept/Leaf/Deep"]},
    )
    await _put(server, admin, "/api/tags", {"tags": ["Admin"]})
    by_value = {v: str(i) for v, i in await server.asql("SELECT value, id FROM tag")}
    asset_id, _ = insert_asset(server, user.id)
    await _put(
        server, user, "/api/tags/assets",
        {"tagIds": [by_value["Parent"], by_value["Kept/Leaf/Deep"]], "assetIds": [asset_id]},
    )
    await wait_for(server, "SELECT count(*) FROM tag_asset", (), [(2,)])
    server.sql("DELETE FROM immich_trio.job")  # the sidecar writes of the tagging

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.post("/api/jobs", json={"name": "tag-cleanup"}, headers=admin.headers)
    assert r.status_code == 204, r.text
    await wait_for(server, NO_JOBS, (), [])

    left = await server.asql("SELECT value FROM tag ORDER BY value")
    # A parent with a tagged child stays, so does a tagged parent; its unused child goes, and
    # so do every user's unused tags.
    assert left == [("Kept",), ("Kept/Leaf",), ("Kept/Leaf/Deep",), ("Parent",)]
    # The closure keeps no row for a deleted tag.
    assert await server.asql(
        "SELECT count(*) FROM tag_closure c LEFT JOIN tag t ON t.id = c.id_descendant WHERE t.id IS NULL"
    ) == [(0,)]
