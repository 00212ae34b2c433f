"""The Trash tag: empty, restore all, restore some; ownership and the restore event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import trio

from immich_trio.actors.notifier.hub import Subscription
from immich_trio.http.socketio import EventRelay
from immich_trio.runtime import Runtime
from tests.http.conftest import next_event

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]
DELETED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def insert_asset(sql: Sql, owner: str, status: str = "trashed") -> str:
    asset_id = str(uuid.uuid4())
    deleted_at = None if status == "active" else DELETED_AT
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", status,'
        " \"deletedAt\") VALUES (%s, %s, 'IMAGE', %s, 'a.jpg', %s, 'sha1', %s, %s, %s, %s, %s)",
        (
            asset_id,
            owner,
            f"/nowhere/{asset_id}.jpg",
            uuid.uuid4().bytes[:20],
            DELETED_AT,
            DELETED_AT,
            DELETED_AT,
            status,
            deleted_at,
        ),
    )
    return asset_id


def states(sql: Sql) -> dict[str, tuple[str, datetime | None]]:
    return {str(i): (s, d) for i, s, d in sql('SELECT id, status::text, "deletedAt" FROM asset')}


def events(sub: Subscription) -> list[list[Any]]:
    out = []
    with pytest.raises(trio.WouldBlock):
        while True:
            frame = sub._receive.receive_nowait()
            out.append(json.loads(frame[2:]))
    return out


async def test_empty_trash_marks_deleted_and_queues_the_job(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("a@example.com")
    other = await make_user("b@example.com")
    trashed = insert_asset(sql, user.id)
    active = insert_asset(sql, user.id, "active")
    theirs = insert_asset(sql, other.id)

    resp = await client.post("/api/trash/empty", headers=user.headers)
    assert resp.status_code == 200
    assert await resp.get_json() == {"count": 1}
    assert states(sql) == {
        trashed: ("deleted", DELETED_AT),
        active: ("active", None),
        theirs: ("trashed", DELETED_AT),
    }
    assert sql("SELECT queue, name, data FROM immich_trio.job") == [
        ("backgroundTask", "AssetEmptyTrash", {})
    ]

    # Nothing left in the trash: nothing to queue.
    resp = await client.post("/api/trash/empty", headers=user.headers)
    assert await resp.get_json() == {"count": 0}
    assert len(sql("SELECT 1 FROM immich_trio.job")) == 1


async def test_restore_trash_restores_all_without_an_event(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, relay: EventRelay
) -> None:
    user = await make_user("a@example.com")
    other = await make_user("b@example.com")
    sub = runtime.hub.attach(user_id=user.id, session_id=None)
    first, second = insert_asset(sql, user.id), insert_asset(sql, user.id)
    doomed = insert_asset(sql, user.id, "deleted")
    theirs = insert_asset(sql, other.id)

    resp = await client.post("/api/trash/restore", headers=user.headers)
    assert resp.status_code == 200
    assert await resp.get_json() == {"count": 2}
    assert states(sql) == {
        first: ("active", None),
        second: ("active", None),
        doomed: ("deleted", DELETED_AT),
        theirs: ("trashed", DELETED_AT),
    }
    # The next event the socket hears is the one of a later restore: none came before it.
    later = insert_asset(sql, user.id)
    resp = await client.post("/api/trash/restore/assets", headers=user.headers, json={"ids": [later]})
    assert resp.status_code == 200
    assert await next_event(sub) == ["on_asset_restore", [later]]


async def test_restore_assets_restores_the_ids_and_tells_the_user(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, relay: EventRelay
) -> None:
    user = await make_user("a@example.com")
    sub = runtime.hub.attach(user_id=user.id, session_id=None)
    first, second = insert_asset(sql, user.id), insert_asset(sql, user.id)
    active = insert_asset(sql, user.id, "active")

    resp = await client.post(
        "/api/trash/restore/assets", headers=user.headers, json={"ids": [first, active]}
    )
    assert resp.status_code == 200
    # The number of ids asked for, as Immich answers, not the number that changed.
    assert await resp.get_json() == {"count": 2}
    assert states(sql) == {
        first: ("active", None),
        second: ("trashed", DELETED_AT),
        active: ("active", None),
    }
    assert await next_event(sub) == ["on_asset_restore", [first, active]]

    resp = await client.post("/api/trash/restore/assets", headers=user.headers, json={"ids": []})
    assert await resp.get_json() == {"count": 0}


async def test_restore_assets_refuses_other_users_ids(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("a@example.com")
    other = await make_user("b@example.com")
    mine, theirs = insert_asset(sql, user.id), insert_asset(sql, other.id)

    resp = await client.post(
        "/api/trash/restore/assets", headers=user.headers, json={"ids": [mine, theirs]}
    )
    assert resp.status_code == 400
    assert (await resp.get_json())["message"] == "Not found or no asset.delete access"
    assert states(sql)[mine] == ("trashed", DELETED_AT)
    assert states(sql)[theirs] == ("trashed", DELETED_AT)

    resp = await client.post(
        "/api/trash/restore/assets", headers=user.headers, json={"ids": ["not-a-uuid"]}
    )
    assert resp.status_code == 400


async def test_trash_needs_authentication(client: Any) -> None:
    for path in ("/api/trash/empty", "/api/trash/restore"):
        resp = await client.post(path)
        assert resp.status_code == 401
