"""Calendar heatmaps (Users, Users admin) and the folders view (Views) against a real database."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Sql = Callable[..., list[tuple[Any, ...]]]


def add_asset(
    sql: Sql,
    owner: str,
    *,
    path: str = "/photos/IMG.jpg",
    created: datetime = datetime(2024, 3, 10, 12, tzinfo=UTC),
    local: datetime = datetime(2024, 3, 10, 12, tzinfo=UTC),
    visibility: str = "timeline",
    deleted_at: datetime | None = None,
) -> str:
    rows = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", visibility,'
        ' "deletedAt", "createdAt") VALUES (%s, \'IMAGE\', %s, %s, %s, %s, %s, \'sha1\', %s, %s, %s, %s)'
        " RETURNING id",
        (owner, path, local, local, local, os.urandom(20), path.rsplit("/", 1)[-1], visibility,
         deleted_at, created),
    )
    return str(rows[0][0])


async def heatmap(client: Any, user: Any, path: str = "/api/users/me/calendar-heatmap", **query: str) -> Any:
    response = await client.get(path, headers=user.headers, query_string=query)
    return response.status_code, await response.get_json()


async def test_heatmap_counts_days_in_the_period(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user("heat@example.com")
    other = await make_user("other@example.com")
    day = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)
    add_asset(sql, user.id, created=day)
    add_asset(sql, user.id, created=day, visibility="archive")
    add_asset(sql, user.id, created=datetime(2024, 3, 12, 0, 0, tzinfo=UTC))
    add_asset(sql, user.id, created=day, deleted_at=day)  # trashed: not counted
    add_asset(sql, user.id, created=datetime(2024, 3, 13, 0, 0, tzinfo=UTC))  # after the period
    add_asset(sql, other.id, created=day)

    status, body = await heatmap(client, user, **{"from": "2024-03-10", "to": "2024-03-12"})
    assert status == 200
    assert body == {
        "from": "2024-03-10",
        "to": "2024-03-12",
        "series": [
            {"date": "2024-03-10", "count": 2},
            {"date": "2024-03-11", "count": 0},
            {"date": "2024-03-12", "count": 1},
        ],
        "totalCount": 3,
    }


async def test_heatmap_taken_uses_local_date(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user("taken@example.com")
    add_asset(sql, user.id, created=datetime(2024, 5, 1, tzinfo=UTC), local=datetime(2024, 3, 11, 1, tzinfo=UTC))
    _, body = await heatmap(client, user, **{"from": "2024-03-10", "to": "2024-03-11", "type": "Taken"})
    assert body["series"] == [{"date": "2024-03-10", "count": 0}, {"date": "2024-03-11", "count": 1}]
    _, body = await heatmap(client, user, **{"from": "2024-03-10", "to": "2024-03-11"})
    assert body["totalCount"] == 0


async def test_heatmap_defaults_to_52_weeks_ending_today(client: Any, make_user: Any, runtime: Any) -> None:
    user = await make_user("default@example.com")
    runtime.now = lambda: datetime(2024, 12, 31, 22, tzinfo=UTC)
    _, body = await heatmap(client, user)
    assert (body["from"], body["to"], len(body["series"])) == ("2024-01-03", "2024-12-31", 364)
    _, body = await heatmap(client, user, to="2024-03-01")
    assert (body["from"], body["to"]) == ("2023-03-04", "2024-03-01")


async def test_heatmap_bad_input(client: Any, make_user: Any) -> None:
    user = await make_user("bad@example.com")
    status, body = await heatmap(client, user, **{"from": "2024-03-12", "to": "2024-03-10"})
    assert (status, body["message"]) == (400, "Validation failed")
    assert body["errors"][0]["message"] == "from must be before to"
    status, body = await heatmap(client, user, **{"from": "2024-02-30"})
    assert status == 400
    status, body = await heatmap(client, user, type="Nope")
    assert status == 400


async def test_admin_heatmap(client: Any, make_user: Any, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user("u@example.com")
    add_asset(sql, user.id)
    path = f"/api/admin/users/{user.id}/calendar-heatmap"
    status, body = await heatmap(client, admin, path, **{"from": "2024-03-10", "to": "2024-03-10"})
    assert (status, body["totalCount"]) == (200, 1)
    status, body = await heatmap(client, user, path)
    assert status == 403
    sql('UPDATE "user" SET "deletedAt" = now() WHERE id = %s', (user.id,))
    status, body = await heatmap(client, admin, path)
    assert (status, body) == (400, {"message": "User not found"})


async def test_folders_view(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user("folders@example.com")
    other = await make_user("folders2@example.com")
    b = add_asset(sql, user.id, path="/lib/2024/trip/b.jpg")
    a = add_asset(sql, user.id, path="/lib/2024/trip/a.jpg")
    add_asset(sql, user.id, path="/lib/2024/trip/deeper/c.jpg")
    add_asset(sql, user.id, path="/lib/2024/d.jpg")
    add_asset(sql, user.id, path="/lib/hidden/e.jpg", visibility="archive")
    add_asset(sql, user.id, path="/lib/trash/f.jpg", deleted_at=datetime.now(UTC))
    add_asset(sql, other.id, path="/lib/theirs/g.jpg")

    response = await client.get("/api/view/folder/unique-paths", headers=user.headers)
    assert await response.get_json() == ["/lib/2024", "/lib/2024/trip", "/lib/2024/trip/deeper"]

    for path in ("/lib/2024/trip", "/lib/2024/trip/"):
        response = await client.get("/api/view/folder", headers=user.headers, query_string={"path": path})
        body = await response.get_json()
        assert response.status_code == 200
        assert [item["id"] for item in body] == [a, b]
    assert body[0]["originalPath"] == "/lib/2024/trip/a.jpg" and "exifInfo" not in body[0]

    response = await client.get("/api/view/folder", headers=other.headers, query_string={"path": "/lib/2024/trip"})
    assert await response.get_json() == []
    response = await client.get("/api/view/folder", headers=user.headers)
    assert response.status_code == 400
