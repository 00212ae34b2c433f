"""Tag "Users": the caller's account, preferences, license, onboarding, listing and profile images."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from immich_trio.license_keys import STAGING_KEYS
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser
from tests.license_examples import IMMICH_TEST_CLIENT_LICENSE, INVALID_LICENSE

Sql = Callable[..., list[tuple[Any, ...]]]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ADMIN_KEYS = [
    "id", "email", "name", "profileImagePath", "avatarColor", "profileChangedAt", "storageLabel",
    "shouldChangePassword", "isAdmin", "createdAt", "deletedAt", "updatedAt", "oauthId",
    "quotaSizeInBytes", "quotaUsageInBytes", "status", "license",
]  # fmt: skip
DEFAULT_PREFERENCES = {
    "albums": {"defaultAssetOrder": "desc"},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5},
    "people": {"enabled": True, "sidebarWeb": False, "minimumFaces": 3},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "ratings": {"enabled": False},
    "tags": {"enabled": False, "sidebarWeb": False},
    "emailNotifications": {"enabled": True, "albumInvite": True, "albumUpdate": True},
    "download": {"archiveSize": 4294967296, "includeEmbeddedVideos": False},
    "purchase": {"showSupportBadge": True, "hideBuyButtonUntil": "2022-02-12T00:00:00.000Z"},
    "cast": {"gCastEnabled": False},
    "recentlyAdded": {"sidebarWeb": False},
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def multipart(filename: str, data: bytes, field: str = "file") -> tuple[bytes, dict[str, str]]:
    boundary = "----immichtrio" + uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_get_my_user_has_every_admin_field(client: Any, make_user: MakeUser) -> None:
    user = await make_user("me@example.com", name="Me")
    response = await client.get("/api/users/me", headers=user.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body) == ADMIN_KEYS
    assert body["id"] == user.id
    assert body["email"] == "me@example.com"
    assert body["name"] == "Me"
    assert body["profileImagePath"] == ""
    # None stored: derived from the email (sum of code points mod 10 → "orange").
    assert body["avatarColor"] == "orange"
    assert body["storageLabel"] is None
    assert body["shouldChangePassword"] is False
    assert body["isAdmin"] is False
    assert body["deletedAt"] is None
    assert body["oauthId"] == ""
    assert body["quotaSizeInBytes"] is None
    assert body["quotaUsageInBytes"] == 0
    assert body["status"] == "active"
    assert body["license"] is None
    for key in ("createdAt", "updatedAt", "profileChangedAt"):
        assert ISO_Z.match(body[key]), body[key]


async def test_update_me_and_email_conflict(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("one@example.com")
    await make_user("two@example.com")
    response = await client.put(
        "/api/users/me",
        headers=user.headers,
        json={"name": "New Name", "email": "ONE-new@Example.com", "avatarColor": "green", "x": 1},
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["name"], body["email"], body["avatarColor"]) == (
        "New Name",
        "one-new@example.com",
        "green",
    )

    response = await client.put(
        "/api/users/me", headers=user.headers, json={"email": "two@example.com"}
    )
    assert response.status_code == 400
    assert await response.get_json() == {"message": "Email already in use by another account"}
    assert sql('SELECT email FROM "user" WHERE id = %s', (user.id,)) == [("one-new@example.com",)]


async def test_update_me_password_is_hashed_and_clears_should_change(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("pw@example.com")
    sql('UPDATE "user" SET "shouldChangePassword" = true WHERE id = %s', (user.id,))
    response = await client.put("/api/users/me", headers=user.headers, json={"password": "s3cret!"})
    assert response.status_code == 200
    assert (await response.get_json())["shouldChangePassword"] is False
    [(stored,)] = sql('SELECT password FROM "user" WHERE id = %s', (user.id,))
    assert stored.startswith("$2") and "s3cret" not in stored


async def test_update_me_validation(client: Any, make_user: MakeUser) -> None:
    user = await make_user("v@example.com")
    response = await client.put(
        "/api/users/me", headers=user.headers, json={"name": 5, "avatarColor": "plaid"}
    )
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert {tuple(e["path"]) for e in body["errors"]} == {("name",), ("avatarColor",)}
    assert {e["code"] for e in body["errors"]} == {"invalid_type", "invalid_value"}


async def test_preferences_defaults_and_partial_update(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("prefs@example.com")
    response = await client.get("/api/users/me/preferences", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_json() == DEFAULT_PREFERENCES

    response = await client.put(
        "/api/users/me/preferences",
        headers=user.headers,
        json={"memories": {"duration": 9}, "tags": {"enabled": True}, "avatar": {"color": "red"}},
    )
    assert response.status_code == 200
    expected = {
        **DEFAULT_PREFERENCES,
        "memories": {"enabled": True, "duration": 9},
        "tags": {"enabled": True, "sidebarWeb": False},
    }
    assert await response.get_json() == expected
    again = await client.get("/api/users/me/preferences", headers=user.headers)
    assert await again.get_json() == expected
    # Only what differs from the defaults is stored.
    [(stored,)] = sql(
        "SELECT value FROM user_metadata WHERE \"userId\" = %s AND key = 'preferences'", (user.id,)
    )
    assert stored == {"memories": {"duration": 9}, "tags": {"enabled": True}}
    me = await (await client.get("/api/users/me", headers=user.headers)).get_json()
    assert me["avatarColor"] == "red"


async def test_preferences_validation(client: Any, make_user: MakeUser) -> None:
    user = await make_user("pv@example.com")
    response = await client.put(
        "/api/users/me/preferences", headers=user.headers, json={"memories": {"duration": "long"}}
    )
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == ["memories", "duration"]


async def test_onboarding_round_trip(client: Any, make_user: MakeUser) -> None:
    user = await make_user("onb@example.com")
    get = await client.get("/api/users/me/onboarding", headers=user.headers)
    assert (get.status_code, await get.get_json()) == (200, {"isOnboarded": False})
    put = await client.put(
        "/api/users/me/onboarding", headers=user.headers, json={"isOnboarded": True}
    )
    assert (put.status_code, await put.get_json()) == (200, {"isOnboarded": True})
    get = await client.get("/api/users/me/onboarding", headers=user.headers)
    assert await get.get_json() == {"isOnboarded": True}
    delete = await client.delete("/api/users/me/onboarding", headers=user.headers)
    assert (delete.status_code, await delete.get_data()) == (204, b"")
    get = await client.get("/api/users/me/onboarding", headers=user.headers)
    assert await get.get_json() == {"isOnboarded": False}


async def test_license_round_trip(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    # Immich's own test key, signed with its staging client key (see tests/test_license_keys.py).
    runtime.settings = attrs.evolve(runtime.settings, license_keys=STAGING_KEYS)
    user = await make_user("lic@example.com")
    missing = await client.get("/api/users/me/license", headers=user.headers)
    assert (missing.status_code, await missing.get_json()) == (404, {"message": "Not Found"})

    bad = await client.put(
        "/api/users/me/license",
        headers=user.headers,
        json={"licenseKey": "not-a-key", "activationKey": "a"},
    )
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"

    key, activation = IMMICH_TEST_CLIENT_LICENSE
    forged = await client.put(
        "/api/users/me/license",
        headers=user.headers,
        json={"licenseKey": "IMCL-" + "-".join(["AB12"] * 8), "activationKey": activation},
    )
    assert (forged.status_code, await forged.get_json()) == (400, INVALID_LICENSE)
    put = await client.put(
        "/api/users/me/license",
        headers=user.headers,
        json={"licenseKey": key, "activationKey": activation},
    )
    assert put.status_code == 200
    body = await put.get_json()
    assert list(body) == ["licenseKey", "activationKey", "activatedAt"]
    assert body["licenseKey"] == key and ISO_Z.match(body["activatedAt"])
    me = await (await client.get("/api/users/me", headers=user.headers)).get_json()
    assert me["license"] == body
    stored = await client.get("/api/users/me/license", headers=user.headers)
    assert (stored.status_code, await stored.get_json()) == (200, body)

    delete = await client.delete("/api/users/me/license", headers=user.headers)
    assert delete.status_code == 204
    again = await client.get("/api/users/me/license", headers=user.headers)
    assert again.status_code == 404


async def test_search_users_respects_public_users(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user("user@example.com")
    sql('UPDATE "user" SET "deletedAt" = now() WHERE email = %s', ("admin@example.com",))
    gone = await make_user("gone@example.com")
    sql('UPDATE "user" SET "deletedAt" = now() WHERE id = %s', (gone.id,))
    sql('UPDATE "user" SET "deletedAt" = NULL WHERE id = %s', (admin.id,))

    response = await client.get("/api/users", headers=user.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert sorted(u["email"] for u in body) == ["admin@example.com", "user@example.com"]
    assert list(body[0]) == [
        "id",
        "email",
        "name",
        "profileImagePath",
        "avatarColor",
        "profileChangedAt",
    ]

    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        ('{"server": {"publicUsers": false}}',),
    )
    mine = await (await client.get("/api/users", headers=user.headers)).get_json()
    assert [u["email"] for u in mine] == ["user@example.com"]
    everyone = await (await client.get("/api/users", headers=admin.headers)).get_json()
    assert len(everyone) == 2


async def test_get_user_by_id(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("look@example.com")
    other = await make_user("other@example.com", name="Other")
    response = await client.get(f"/api/users/{other.id}", headers=user.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["id"], body["name"], body["email"]) == (other.id, "Other", "other@example.com")
    assert "isAdmin" not in body

    unknown = await client.get(f"/api/users/{uuid.uuid4()}", headers=user.headers)
    # Immich's user.service.ts findOrFail: 400, not 404.
    assert (unknown.status_code, await unknown.get_json()) == (400, {"message": "User not found"})
    sql('UPDATE "user" SET "deletedAt" = now() WHERE id = %s', (other.id,))
    deleted = await client.get(f"/api/users/{other.id}", headers=user.headers)
    assert (deleted.status_code, await deleted.get_json()) == (400, {"message": "User not found"})

    bad = await client.get("/api/users/not-a-uuid", headers=user.headers)
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"


async def test_profile_image_upload_serve_delete(
    client: Any, make_user: MakeUser, runtime: Runtime, sql: Sql
) -> None:
    user = await make_user("pic@example.com")
    other = await make_user("viewer@example.com")
    none = await client.get(f"/api/users/{user.id}/profile-image", headers=other.headers)
    assert (none.status_code, await none.get_json()) == (404, {"message": "Not Found"})

    body, headers = multipart("me.png", PNG)
    response = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=body
    )
    assert response.status_code == 201
    created = await response.get_json()
    assert list(created) == ["userId", "profileImagePath", "profileChangedAt"]
    assert created["userId"] == user.id
    path = Path(created["profileImagePath"])
    media = runtime.settings.media_location.resolve()
    assert path.parent == media / "profile" / user.id
    assert path.suffix == ".png"
    assert await trio.Path(path).read_bytes() == PNG
    me = await (await client.get("/api/users/me", headers=user.headers)).get_json()
    assert me["profileImagePath"] == str(path)
    assert me["profileChangedAt"] == created["profileChangedAt"]

    served = await client.get(f"/api/users/{user.id}/profile-image", headers=other.headers)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert await served.get_data() == PNG

    # A second upload replaces the first, whose file goes away.
    body, headers = multipart("next.jpg", b"\xff\xd8\xff\xe0jpeg-bytes")
    second = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=body
    )
    assert second.status_code == 201
    new_path = Path((await second.get_json())["profileImagePath"])
    assert not await trio.Path(path).exists()
    assert await trio.Path(new_path).exists()
    served = await client.get(f"/api/users/{user.id}/profile-image", headers=user.headers)
    assert served.headers["Content-Type"] == "image/jpeg"

    delete = await client.delete("/api/users/profile-image", headers=user.headers)
    assert (delete.status_code, await delete.get_data()) == (204, b"")
    assert not await trio.Path(new_path).exists()
    assert sql('SELECT "profileImagePath" FROM "user" WHERE id = %s', (user.id,)) == [("",)]
    gone = await client.get(f"/api/users/{user.id}/profile-image", headers=user.headers)
    assert gone.status_code == 404
    again = await client.delete("/api/users/profile-image", headers=user.headers)
    assert (again.status_code, await again.get_json()) == (
        400,
        {"message": "Can't delete a missing profile Image"},
    )


async def test_profile_image_rejects_bad_uploads(
    client: Any, make_user: MakeUser, runtime: Runtime
) -> None:
    user = await make_user("badpic@example.com")
    body, headers = multipart("notes.txt", b"hello")
    response = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=body
    )
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "Unsupported file type notes.txt"},
    )
    body, headers = multipart("empty.png", b"")
    response = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=body
    )
    assert (response.status_code, await response.get_json()) == (400, {"message": "File is empty"})
    body, headers = multipart("me.png", PNG, field="notfile")
    response = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=body
    )
    assert response.status_code == 400
    # Nothing was left behind.
    profile = trio.Path(runtime.settings.media_location / "profile" / user.id)
    assert not await profile.exists() or list(await profile.iterdir()) == []
    staging = trio.Path(runtime.settings.media_location / "upload" / ".tmp")
    assert not await staging.exists() or list(await staging.iterdir()) == []


async def test_deleted_user_token_is_rejected(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("bye@example.com")
    assert (await client.get("/api/users/me", headers=user.headers)).status_code == 200
    sql('UPDATE "user" SET "deletedAt" = now(), status = %s WHERE id = %s', ("deleted", user.id))
    response = await client.get("/api/users/me", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (
        401,
        {"message": "Invalid user token"},
    )


async def test_profile_image_truncated_upload_leaves_nothing(
    client: Any, make_user: MakeUser, runtime: Runtime
) -> None:
    user = await make_user("cut@example.com")
    body, headers = multipart("me.png", PNG)
    cut = body[: body.index(PNG) + 10]  # the closing boundary never arrives
    response = await client.post(
        "/api/users/profile-image", headers={**user.headers, **headers}, data=cut
    )
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "Unexpected end of form"},
    )
    profile = trio.Path(runtime.settings.media_location / "profile" / user.id)
    assert not await profile.exists() or list(await profile.iterdir()) == []
    staging = trio.Path(runtime.settings.media_location / "upload" / ".tmp")
    assert not await staging.exists() or list(await staging.iterdir()) == []
    me = await (await client.get("/api/users/me", headers=user.headers)).get_json()
    assert me["profileImagePath"] == ""
