"""Tag "Users (admin)": create, read, update, soft delete, restore, preferences, sessions, stats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from immich_trio import crypto
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
async def admin(make_user: MakeUser) -> UserCreds:
    return await make_user("admin@example.com", is_admin=True, name="Admin")


async def create(client: Any, admin: UserCreds, **body: Any) -> Any:
    payload = {"email": "new@example.com", "name": "New", "password": "pw12345", **body}
    return await client.post("/api/admin/users", headers=admin.headers, json=payload)


async def test_admin_routes_refuse_normal_user(client: Any, make_user: MakeUser) -> None:
    user = await make_user("plain@example.com")
    for method, path in (
        ("get", "/api/admin/users"),
        ("post", "/api/admin/users"),
        ("get", f"/api/admin/users/{user.id}"),
        ("delete", f"/api/admin/users/{user.id}"),
        ("get", f"/api/admin/users/{user.id}/statistics"),
    ):
        response = await getattr(client, method)(path, headers=user.headers)
        assert response.status_code == 403, path
        assert await response.get_json() == {"message": "Forbidden"}


async def test_create_user(client: Any, admin: UserCreds, sql: Sql) -> None:
    response = await create(
        client,
        admin,
        email="New@Example.com",
        storageLabel="my.label",
        quotaSizeInBytes=1000,
        avatarColor="pink",
        notify=False,
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body["email"] == "new@example.com"
    assert body["name"] == "New"
    assert body["storageLabel"] == "mylabel"  # dots are dropped
    assert body["quotaSizeInBytes"] == 1000
    assert body["avatarColor"] == "pink"
    assert body["isAdmin"] is False
    assert body["shouldChangePassword"] is True  # the column default
    assert (body["status"], body["deletedAt"], body["license"]) == ("active", None, None)
    [(hashed,)] = sql('SELECT password FROM "user" WHERE id = %s', (body["id"],))
    assert crypto.check_password("pw12345", hashed)

    again = await create(client, admin, email="NEW@example.com")
    assert (again.status_code, await again.get_json()) == (
        400,
        {"message": "Email is not available"},
    )


async def test_create_user_validation(client: Any, admin: UserCreds) -> None:
    response = await client.post(
        "/api/admin/users", headers=admin.headers, json={"email": "x@example.com", "name": 3}
    )
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert {tuple(e["path"]) for e in body["errors"]} == {("name",), ("password",)}


async def test_search_users_admin_with_deleted_and_id(
    client: Any, admin: UserCreds, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("u@example.com")
    gone = await make_user("gone@example.com")
    sql('UPDATE "user" SET "deletedAt" = now(), status = %s WHERE id = %s', ("deleted", gone.id))

    response = await client.get("/api/admin/users", headers=admin.headers)
    assert response.status_code == 200
    body = await response.get_json()
    # Newest first.
    assert [u["email"] for u in body] == ["u@example.com", "admin@example.com"]
    assert body[1]["isAdmin"] is True and body[1]["storageLabel"] == "admin"

    everyone = await client.get("/api/admin/users?withDeleted=true", headers=admin.headers)
    emails = [u["email"] for u in await everyone.get_json()]
    assert emails == ["gone@example.com", "u@example.com", "admin@example.com"]

    one = await client.get(f"/api/admin/users?id={user.id}", headers=admin.headers)
    assert [u["id"] for u in await one.get_json()] == [user.id]

    bad = await client.get("/api/admin/users?withDeleted=yes", headers=admin.headers)
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"


async def test_get_user_admin_and_unknown_id(client: Any, admin: UserCreds) -> None:
    response = await client.get(f"/api/admin/users/{admin.id}", headers=admin.headers)
    assert response.status_code == 200
    assert (await response.get_json())["email"] == "admin@example.com"
    for method in ("get", "put", "delete"):
        unknown = await getattr(client, method)(
            f"/api/admin/users/{uuid.uuid4()}", headers=admin.headers, json={}
        )
        assert (unknown.status_code, await unknown.get_json()) == (
            400,
            {"message": "User not found"},
        ), method
    restore = await client.post(f"/api/admin/users/{uuid.uuid4()}/restore", headers=admin.headers)
    assert (restore.status_code, await restore.get_json()) == (400, {"message": "User not found"})


async def test_update_user_admin(
    client: Any, admin: UserCreds, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("edit@example.com")
    await make_user("taken@example.com")
    response = await client.put(
        f"/api/admin/users/{user.id}",
        headers=admin.headers,
        json={
            "name": "Edited",
            "storageLabel": "edited",
            "quotaSizeInBytes": 5000,
            "shouldChangePassword": True,
            "password": "newpass",
            "pinCode": "123456",
            "isAdmin": True,
        },
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["name"], body["storageLabel"], body["quotaSizeInBytes"]) == (
        "Edited",
        "edited",
        5000,
    )
    assert body["shouldChangePassword"] is True and body["isAdmin"] is True
    [(password, pin)] = sql('SELECT password, "pinCode" FROM "user" WHERE id = %s', (user.id,))
    assert crypto.check_password("newpass", password)
    assert crypto.check_password("123456", pin)

    email = await client.put(
        f"/api/admin/users/{user.id}", headers=admin.headers, json={"email": "taken@example.com"}
    )
    assert (email.status_code, await email.get_json()) == (
        400,
        {"message": "Email already in use by another account"},
    )
    label = await client.put(
        f"/api/admin/users/{user.id}", headers=admin.headers, json={"storageLabel": "admin"}
    )
    assert (label.status_code, await label.get_json()) == (
        400,
        {"message": "Storage label already in use by another account"},
    )
    cleared = await client.put(
        f"/api/admin/users/{user.id}",
        headers=admin.headers,
        json={"storageLabel": "", "quotaSizeInBytes": None, "pinCode": None},
    )
    body = await cleared.get_json()
    assert (body["storageLabel"], body["quotaSizeInBytes"]) == (None, None)
    assert sql('SELECT "pinCode" FROM "user" WHERE id = %s', (user.id,)) == [(None,)]

    invalid = await client.put(
        f"/api/admin/users/{user.id}", headers=admin.headers, json={"quotaSizeInBytes": -1}
    )
    assert invalid.status_code == 400
    assert (await invalid.get_json())["errors"][0]["code"] == "too_small"


async def test_admin_cannot_change_own_admin_flag(client: Any, admin: UserCreds) -> None:
    response = await client.put(
        f"/api/admin/users/{admin.id}", headers=admin.headers, json={"isAdmin": False}
    )
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "Admin status can only be changed by another admin"},
    )


async def test_delete_and_restore(
    client: Any, admin: UserCreds, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("del@example.com")
    assert (await client.get("/api/users/me", headers=user.headers)).status_code == 200

    response = await client.delete(f"/api/admin/users/{user.id}", headers=admin.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "deleted" and body["deletedAt"] is not None
    assert body["deletedAt"].endswith("Z")
    # The deleted user's token no longer works.
    denied = await client.get("/api/users/me", headers=user.headers)
    assert (denied.status_code, await denied.get_json()) == (401, {"message": "Invalid user token"})
    # Deleted users are hidden from the default listing; deleting again finds nobody.
    listed = await (await client.get("/api/admin/users", headers=admin.headers)).get_json()
    assert user.id not in [u["id"] for u in listed]
    twice = await client.delete(f"/api/admin/users/{user.id}", headers=admin.headers)
    assert (twice.status_code, await twice.get_json()) == (400, {"message": "User not found"})
    # Admin GET still sees them.
    seen = await client.get(f"/api/admin/users/{user.id}", headers=admin.headers)
    assert (await seen.get_json())["status"] == "deleted"

    restored = await client.post(f"/api/admin/users/{user.id}/restore", headers=admin.headers)
    assert restored.status_code == 200
    body = await restored.get_json()
    assert (body["status"], body["deletedAt"]) == ("active", None)
    assert (await client.get("/api/users/me", headers=user.headers)).status_code == 200

    forced = await client.delete(
        f"/api/admin/users/{user.id}", headers=admin.headers, json={"force": True}
    )
    assert forced.status_code == 200
    assert (await forced.get_json())["status"] == "removing"
    assert sql('SELECT status FROM "user" WHERE id = %s', (user.id,)) == [("removing",)]

    bad = await client.delete(
        f"/api/admin/users/{user.id}", headers=admin.headers, json={"force": "yes"}
    )
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"


async def test_cannot_delete_an_admin(
    client: Any, admin: UserCreds, make_user: MakeUser, sql: Sql
) -> None:
    other = await make_user("admin2@example.com")
    sql('UPDATE "user" SET "isAdmin" = true WHERE id = %s', (other.id,))
    for target in (admin.id, other.id):
        response = await client.delete(f"/api/admin/users/{target}", headers=admin.headers)
        assert (response.status_code, await response.get_json()) == (
            403,
            {"message": "Cannot delete admin user"},
        )
    assert sql('SELECT count(*) FROM "user" WHERE "deletedAt" IS NOT NULL') == [(0,)]


async def test_admin_preferences(client: Any, admin: UserCreds, make_user: MakeUser) -> None:
    user = await make_user("p@example.com")
    response = await client.put(
        f"/api/admin/users/{user.id}/preferences",
        headers=admin.headers,
        json={"download": {"includeEmbeddedVideos": True}, "people": {"minimumFaces": 4}},
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["download"] == {"archiveSize": 4294967296, "includeEmbeddedVideos": True}
    assert body["people"] == {"enabled": True, "sidebarWeb": False, "minimumFaces": 4}
    mine = await (await client.get("/api/users/me/preferences", headers=user.headers)).get_json()
    assert mine == body
    read = await client.get(f"/api/admin/users/{user.id}/preferences", headers=admin.headers)
    assert await read.get_json() == body
    unknown = await client.get(
        f"/api/admin/users/{uuid.uuid4()}/preferences", headers=admin.headers
    )
    assert (unknown.status_code, await unknown.get_json()) == (400, {"message": "User not found"})


async def test_admin_sessions(client: Any, admin: UserCreds, make_user: MakeUser) -> None:
    user = await make_user("s@example.com")
    response = await client.get(f"/api/admin/users/{user.id}/sessions", headers=admin.headers)
    assert response.status_code == 200
    [session] = await response.get_json()
    assert session["deviceType"] == "pytest" and session["deviceOS"] == "Linux"
    assert session["current"] is False


async def test_user_statistics(
    client: Any, admin: UserCreds, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("stats@example.com")

    def asset(
        kind: str, *, visibility: str = "timeline", favorite: bool = False, trashed: bool = False
    ) -> None:
        sql(
            'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
            ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", visibility,'
            ' "isFavorite", "deletedAt", status)'
            " VALUES (%s, %s, %s, now(), now(), now(), %s, 'sha1', 'f', %s, %s, %s, %s)",
            (
                user.id, kind, f"/x/{uuid.uuid4()}", uuid.uuid4().bytes, visibility, favorite,
                "2024-01-01" if trashed else None, "trashed" if trashed else "active",
            ),
        )  # fmt: skip

    asset("IMAGE")
    asset("IMAGE", favorite=True)
    asset("VIDEO", visibility="archive")
    asset("IMAGE", visibility="hidden")
    asset("IMAGE", trashed=True)
    asset("AUDIO")
    url = f"/api/admin/users/{user.id}/statistics"
    response = await client.get(url, headers=admin.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"images": 2, "videos": 1, "total": 4}
    favorites = await client.get(url + "?isFavorite=true", headers=admin.headers)
    assert await favorites.get_json() == {"images": 1, "videos": 0, "total": 1}
    trashed = await client.get(url + "?isTrashed=true", headers=admin.headers)
    assert await trashed.get_json() == {"images": 1, "videos": 0, "total": 1}
    archived = await client.get(url + "?visibility=archive", headers=admin.headers)
    assert await archived.get_json() == {"images": 0, "videos": 1, "total": 1}
    bad = await client.get(url + "?visibility=nowhere", headers=admin.headers)
    assert bad.status_code == 400
