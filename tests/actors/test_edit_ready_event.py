"""``AssetEditReadyV2`` as the mobile app receives it: once an edit render commits, the owner's
sockets get the asset and its edits in the sync shapes (Immich's job service payload)."""

from __future__ import annotations

import json

import psycopg
import trio
from media_harness import LIMIT, make_user

from immich_trio.actors.notifier.hub import Hub
from immich_trio.http.socketio import EventRelay
from immich_trio.sql.pool import open_pool
from tests.actors.test_pipeline_flow import add_asset, publish, received, until


async def test_edit_ready_carries_the_asset_and_its_edits_in_order(db_url: str, nursery: trio.Nursery) -> None:
    owner = (await trio.to_thread.run_sync(make_user, db_url, "editor@example.com")).id
    other = (await trio.to_thread.run_sync(make_user, db_url, "other@example.com")).id
    hub = Hub()
    mine, theirs = hub.attach(user_id=owner, session_id=None), hub.attach(user_id=other, session_id=None)
    received(mine), received(theirs)  # on_server_version
    asset_id = add_asset(db_url, owner, visibility="timeline", exif=True)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('UPDATE asset SET "isEdited" = true, width = 300, height = 400 WHERE id = %s', (asset_id,))
        for sequence, action, parameters in ((1, "mirror", {"axis": "horizontal"}), (0, "rotate", {"angle": 90})):
            conn.execute(
                'INSERT INTO asset_edit ("assetId", action, parameters, sequence) VALUES (%s, %s, %s, %s)',
                (asset_id, action, json.dumps(parameters), sequence),
            )
    async with open_pool(db_url) as pool:
        relay = EventRelay(pool, hub)
        with trio.fail_after(LIMIT):
            await nursery.start(relay.run)
            await publish(db_url, owner, "AssetEditReadyV2", asset_id)
            await until(lambda: relay.statistics().delivered == 1)
        [[name, ready]] = received(mine)
        nursery.cancel_scope.cancel()
    assert name == "AssetEditReadyV2" and received(theirs) == []
    assert set(ready) == {"asset", "edit"}
    asset = ready["asset"]
    assert (asset["id"], asset["ownerId"], asset["isEdited"]) == (asset_id, owner, True)
    assert (asset["width"], asset["height"], asset["thumbhash"]) == (300, 400, "AQI=")
    assert asset["fileCreatedAt"] == "2024-01-15T10:30:00.000Z"
    assert [(e["sequence"], e["action"], e["parameters"]) for e in ready["edit"]] == [
        (0, "rotate", {"angle": 90}),
        (1, "mirror", {"axis": "horizontal"}),
    ]
    assert list(ready["edit"][0]) == ["id", "assetId", "sequence", "action", "parameters"]
    assert {e["assetId"] for e in ready["edit"]} == {asset_id}
