"""The Notifications tag, user side: list with filters, get, mark read (one, many), delete
(one, many, soft), Immich's answers for empty and non-empty lists, and bad ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"

# Immich's own answer (a real v3.1 install) to GET /api/notifications: an album update, unread.
# Immich stores that notification's data as a JSON string and answers it as that string.
RECORDED = [{
    "id": "f5e9742a-145f-4e21-a32e-e48daae72a7b",
    "createdAt": "2026-12-06T20:56:27.180Z",
    "level": "info",
    "type": "AlbumUpdate",
    "title": "Shared Album Update",
    "description": "New media has been added to the album (Summer 2024)",
    "data": "{\"albumId\":\"5b07cc75-4145-493d-96a5-0b618b76e44d\"}",
}]


def insert(sql: Sql, user: UserCreds, title: str = "Job Failed", *, level: str = "info",
           type: str = "JobFailed", created: str = "2026-01-01T00:00:00Z", data: Any = None,
           description: str | None = None, read_at: str | None = None) -> str:
    [(nid,)] = sql(
        'INSERT INTO notification ("userId", title, level, type, "createdAt", data, description, "readAt")'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id::text",
        (user.id, title, level, type, created, None if data is None else json.dumps(data), description, read_at),
    )
    return str(nid)


async def test_empty_and_recorded_list(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("alex@example.com")
    response = await client.get("/api/notifications", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "[]"
    sql('INSERT INTO notification (id, "userId", "createdAt", level, type, title, description, data)'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (RECORDED[0]["id"], user.id, "2026-12-06T20:56:27.180Z", "info", "AlbumUpdate", "Shared Album Update",
         RECORDED[0]["description"], json.dumps(RECORDED[0]["data"])))
    response = await client.get("/api/notifications", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == json.dumps(RECORDED, separators=(",", ":"))


async def test_filters_and_order(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("alex@example.com")
    other = await make_user("other@example.com")
    old = insert(sql, user, "Old", created="2026-01-01T00:00:00Z", read_at="2026-01-02T00:00:00Z")
    new = insert(sql, user, "New", level="error", type="BackupFailed", created="2026-02-01T00:00:00Z",
                 data={"albumId": MISSING_ID}, description="Backup failed")
    gone = insert(sql, user, "Gone", created="2026-03-01T00:00:00Z")
    sql('UPDATE notification SET "deletedAt" = now() WHERE id = %s', (gone,))
    insert(sql, other, "Not mine")

    async def titles(query: str = "") -> list[str]:
        response = await client.get(f"/api/notifications{query}", headers=user.headers)
        assert response.status_code == 200
        return [n["title"] for n in await response.get_json()]

    assert await titles() == ["New", "Old"]
    assert await titles("?unread=true") == ["New"]
    assert await titles("?unread=false") == ["New", "Old"]
    assert await titles("?level=error") == ["New"]
    assert await titles("?type=JobFailed") == ["Old"]
    assert await titles(f"?id={old}") == ["Old"]
    assert await titles(f"?id={gone}") == []
    assert await titles(f"?id={MISSING_ID}") == []
    response = await client.get("/api/notifications", headers=user.headers)
    first, second = await response.get_json()
    assert first == {"id": new, "createdAt": "2026-02-01T00:00:00.000Z", "level": "error", "type": "BackupFailed",
                     "title": "New", "description": "Backup failed", "data": {"albumId": MISSING_ID}}
    assert list(second) == ["id", "createdAt", "level", "type", "title", "readAt"]
    assert second["readAt"] == "2026-01-02T00:00:00.000Z"
    for bad in ("?unread=yes", "?level=loud", "?type=Nope", "?id=nope"):
        response = await client.get(f"/api/notifications{bad}", headers=user.headers)
        assert (response.status_code, (await response.get_json())["message"]) == (400, "Validation failed")


async def test_get_update_delete_one(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("alex@example.com")
    other = await make_user("other@example.com")
    nid = insert(sql, user, "Mine")
    theirs = insert(sql, other, "Theirs")

    response = await client.get(f"/api/notifications/{nid}", headers=user.headers)
    assert response.status_code == 200
    assert (await response.get_json())["title"] == "Mine"

    response = await client.put(f"/api/notifications/{nid}", headers=user.headers,
                                json={"readAt": "2026-05-01T10:00:00.000Z"})
    assert response.status_code == 200
    body = await response.get_json()
    assert body["readAt"] == "2026-05-01T10:00:00.000Z" and body["id"] == nid
    response = await client.put(f"/api/notifications/{nid}", headers=user.headers, json={})
    assert (await response.get_json())["readAt"] == "2026-05-01T10:00:00.000Z"  # absent: unchanged
    response = await client.put(f"/api/notifications/{nid}", headers=user.headers, json={"readAt": None})
    assert "readAt" not in await response.get_json()
    response = await client.put(f"/api/notifications/{nid}", headers=user.headers, json={"readAt": "soon"})
    assert (await response.get_json())["message"] == "Validation failed"

    for method, permission in (("GET", "read"), ("PUT", "update"), ("DELETE", "delete")):
        for target in (theirs, MISSING_ID):
            response = await client.open(f"/api/notifications/{target}", method=method, headers=user.headers,
                                         json={"readAt": None} if method == "PUT" else None)
            assert (response.status_code, await response.get_json()) == (
                400, {"message": f"Not found or no notification.{permission} access"})
        response = await client.open("/api/notifications/nope", method=method, headers=user.headers,
                                     json={} if method == "PUT" else None)
        assert (response.status_code, (await response.get_json())["message"]) == (400, "Validation failed")

    response = await client.delete(f"/api/notifications/{nid}", headers=user.headers)
    assert response.status_code == 204
    assert sql('SELECT "deletedAt" IS NOT NULL FROM notification WHERE id = %s', (nid,)) == [(True,)]
    response = await client.get("/api/notifications", headers=user.headers)
    assert await response.get_json() == []
    response = await client.get(f"/api/notifications/{nid}", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (400, {"message": "Notification not found"})
    assert sql('SELECT "readAt", "deletedAt" FROM notification WHERE id = %s', (theirs,)) == [(None, None)]


async def test_bulk_update_and_delete(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("alex@example.com")
    other = await make_user("other@example.com")
    a, b, c = (insert(sql, user, t) for t in "abc")
    theirs = insert(sql, other, "Theirs")

    response = await client.put("/api/notifications", headers=user.headers,
                                json={"ids": [a, b, a], "readAt": "2026-05-01T10:00:00Z"})
    assert response.status_code == 204
    response = await client.get("/api/notifications?unread=true", headers=user.headers)
    assert [n["id"] for n in await response.get_json()] == [c]

    # one id not the caller's: nothing changes
    for method, permission in (("PUT", "update"), ("DELETE", "delete")):
        for ids in ([c, theirs], [c, MISSING_ID]):
            response = await client.open("/api/notifications", method=method, headers=user.headers,
                                         json={"ids": ids, "readAt": "2026-05-01T10:00:00Z"})
            assert (response.status_code, await response.get_json()) == (
                400, {"message": f"Not found or no notification.{permission} access"})
        for body in ({"ids": []}, {"ids": ["nope"]}, {}):
            response = await client.open("/api/notifications", method=method, headers=user.headers, json=body)
            assert (response.status_code, (await response.get_json())["message"]) == (400, "Validation failed")
    assert sql('SELECT count(*) FROM notification WHERE "readAt" IS NULL AND "deletedAt" IS NULL') == [(2,)]

    response = await client.put("/api/notifications", headers=user.headers, json={"ids": [a], "readAt": None})
    assert response.status_code == 204
    response = await client.delete("/api/notifications", headers=user.headers, json={"ids": [a, c, c]})
    assert response.status_code == 204
    response = await client.get("/api/notifications", headers=user.headers)
    assert [n["id"] for n in await response.get_json()] == [b]
    assert sql('SELECT "deletedAt" FROM notification WHERE id = %s', (theirs,)) == [(None,)]
