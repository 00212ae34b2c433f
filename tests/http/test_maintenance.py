"""Maintenance (admin): status, the switch, the maintenance login, prior-install detection,
and the request edge while maintenance mode is on."""

from __future__ import annotations

from typing import Any

from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser


def _forget_cookies(client: Any) -> None:
    """The test client keeps cookies like a browser; these checks send them explicitly."""
    if getattr(client, "cookie_jar", None) is not None:
        client.cookie_jar.clear()


def _token(response: Any) -> str:
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("immich_maintenance_token=")
    return str(cookie.split(";", 1)[0].split("=", 1)[1])


async def test_status_off(client: Any) -> None:
    status = await client.get("/api/admin/maintenance/status")
    assert status.status_code == 200
    assert await status.get_json() == {"active": False, "action": "end"}
    login = await client.post("/api/admin/maintenance/login", json={})
    assert login.status_code == 400
    assert (await login.get_json())["message"] == "Not in maintenance mode"


async def test_on_refuses_other_routes_then_off(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    admin = await make_user("admin@example.com", is_admin=True, name="Admin")
    user = await make_user("user@example.com")
    assert (await client.post("/api/admin/maintenance", headers=user.headers, json={"action": "start"})).status_code == 403
    bad = await client.post("/api/admin/maintenance", headers=admin.headers, json={"action": "sideways"})
    assert bad.status_code == 400

    on = await client.post("/api/admin/maintenance", headers=admin.headers, json={"action": "start"})
    assert on.status_code == 201
    token = _token(on)
    _forget_cookies(client)
    assert runtime.maintenance.active

    other = await client.get("/api/users/me", headers=admin.headers)
    assert other.status_code == 404
    assert await other.get_json() == {"message": "Cannot GET /api/users/me", "error": "Not Found", "statusCode": 404}
    status = await client.get("/api/admin/maintenance/status")
    assert await status.get_json() == {"active": True, "action": "start"}
    assert (await client.get("/api/server/version")).status_code == 200
    config = await (await client.get("/api/server/config")).get_json()
    assert (config["maintenanceMode"], config["isInitialized"], config["isOnboarded"]) == (True, True, True)

    missing = await client.get("/api/admin/database-backups")
    assert missing.status_code == 401
    assert (await missing.get_json())["message"] == "Missing JWT Token"
    forged = await client.get("/api/admin/database-backups", headers={"Cookie": "immich_maintenance_token=a.b.c"})
    assert (await forged.get_json())["message"] == "Invalid JWT Token"
    cookie = {"Cookie": f"immich_maintenance_token={token}"}
    assert (await client.get("/api/admin/database-backups", headers=cookie)).status_code == 200

    login = await client.post("/api/admin/maintenance/login", json={"token": token})
    assert login.status_code == 201
    assert await login.get_json() == {"username": "Admin"}
    wrong = await client.post("/api/admin/maintenance/login", json={"token": "x.y.z"})
    assert wrong.status_code == 401
    assert (await wrong.get_json())["message"] == "Invalid JWT Token"
    _forget_cookies(client)
    assert (await client.post("/api/admin/maintenance/login", json={})).status_code == 401
    assert (await client.post("/api/admin/maintenance/login", json={}, headers=cookie)).status_code == 201

    off = await client.post("/api/admin/maintenance", headers=cookie, json={"action": "end"})
    assert off.status_code == 201
    assert not runtime.maintenance.active
    assert (await client.get("/api/users/me", headers=admin.headers)).status_code == 200
    assert (await (await client.get("/api/server/config")).get_json())["maintenanceMode"] is False


async def test_detect_prior_install(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    media = runtime.settings.media_location
    (media / "library").mkdir(parents=True, exist_ok=True)
    (media / "library" / ".immich").write_bytes(b"")
    (media / "library" / "a.jpg").write_bytes(b"x")
    found = await client.get("/api/admin/maintenance/detect-install", headers=admin.headers)
    assert found.status_code == 200
    storage = {s["folder"]: s for s in (await found.get_json())["storage"]}
    assert list(storage) == ["encoded-video", "library", "upload", "profile", "thumbs", "backups"]
    assert storage["library"] == {"folder": "library", "files": 1, "readable": True, "writable": True}
