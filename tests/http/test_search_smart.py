"""``POST /api/search/smart`` by ``queryAssetId``: the stored embedding ranks the library, with no
model involved (the text path runs on real tiny CLIP models in tests/actors)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.http.test_timeline import Sql, insert_asset

DIM = 512
DAY = datetime(2024, 5, 10, 12)


def _vector(axis: int, lean: int | None = None) -> str:
    values = [0.0] * DIM
    values[axis] = 1.0
    if lean is not None:
        values[lean] = 0.5
    return "[" + ",".join(str(v) for v in values) + "]"


def _enable_smart_search(sql: Sql, enabled: bool = True) -> None:
    config = {"machineLearning": {"enabled": enabled, "clip": {"enabled": True}}}
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(config),),
    )


async def test_query_asset_ranks_nearest_first(client: Any, make_user: Any, sql: Sql) -> None:
    _enable_smart_search(sql)
    me = await make_user()
    stranger = await make_user("stranger@example.com")
    seed = insert_asset(sql, me.id, local=DAY)
    near = insert_asset(sql, me.id, local=DAY)
    far = insert_asset(sql, me.id, local=DAY)
    bare = insert_asset(sql, me.id, local=DAY)
    theirs = insert_asset(sql, stranger.id, local=DAY)
    for asset, vector in ((seed, _vector(0)), (near, _vector(0, 1)), (far, _vector(2)), (theirs, _vector(0))):
        sql('INSERT INTO smart_search ("assetId", embedding) VALUES (%s, %s::vector)', (asset, vector))

    response = await client.post("/api/search/smart", headers=me.headers, json={"queryAssetId": seed})
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert [item["id"] for item in body["assets"]["items"]] == [seed, near, far]
    assert body["assets"]["nextPage"] is None
    assert body["albums"] == {"total": 0, "count": 0, "items": [], "facets": []}

    response = await client.post("/api/search/smart", headers=me.headers, json={"queryAssetId": seed, "size": 1})
    body = await response.get_json()
    assert [item["id"] for item in body["assets"]["items"]] == [seed]
    assert body["assets"]["nextPage"] == "2"

    response = await client.post("/api/search/smart", headers=me.headers, json={"queryAssetId": bare})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == f"Asset {bare} has no embedding"

    response = await client.post("/api/search/smart", headers=me.headers, json={"queryAssetId": theirs})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Not found or no asset.read access"


async def test_off_when_machine_learning_is_off(client: Any, make_user: Any, sql: Sql) -> None:
    _enable_smart_search(sql, enabled=False)
    me = await make_user()
    seed = insert_asset(sql, me.id, local=DAY)
    response = await client.post("/api/search/smart", headers=me.headers, json={"queryAssetId": seed})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Smart search is not enabled"
