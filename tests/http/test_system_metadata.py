"""Tag "System metadata" (admin): admin onboarding flag, reverse-geocoding and version-check states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.types.json import Jsonb

from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]


async def test_admin_onboarding_round_trip(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    get = await client.get("/api/system-metadata/admin-onboarding", headers=admin.headers)
    assert (get.status_code, await get.get_json()) == (200, {"isOnboarded": False})

    post = await client.post(
        "/api/system-metadata/admin-onboarding", headers=admin.headers, json={"isOnboarded": True}
    )
    assert (post.status_code, await post.get_data()) == (204, b"")
    assert sql("SELECT value FROM system_metadata WHERE key = 'admin-onboarding'") == [
        ({"isOnboarded": True},)
    ]
    get = await client.get("/api/system-metadata/admin-onboarding", headers=admin.headers)
    assert await get.get_json() == {"isOnboarded": True}
    config = await (await client.get("/api/server/config")).get_json()
    assert config["isOnboarded"] is True


async def test_admin_onboarding_validation(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    for body in ({}, {"isOnboarded": "yes"}):
        response = await client.post(
            "/api/system-metadata/admin-onboarding", headers=admin.headers, json=body
        )
        assert response.status_code == 400
        answer = await response.get_json()
        assert answer["message"] == "Validation failed"
        assert answer["errors"][0]["path"] == ["isOnboarded"]


async def test_states_default_to_nulls_and_read_stored_values(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    geo = await client.get("/api/system-metadata/reverse-geocoding-state", headers=admin.headers)
    assert (geo.status_code, await geo.get_json()) == (
        200,
        {"lastUpdate": None, "lastImportFileName": None},
    )
    version = await client.get("/api/system-metadata/version-check-state", headers=admin.headers)
    assert await version.get_json() == {"checkedAt": None, "releaseVersion": None}

    sql(
        "INSERT INTO system_metadata (key, value) VALUES (%s, %s), (%s, %s)",
        (
            "reverse-geocoding-state",
            Jsonb({"lastUpdate": "2024-05-01", "lastImportFileName": "cities500.txt"}),
            "version-check-state",
            Jsonb({"checkedAt": "2024-05-02T00:00:00.000Z", "releaseVersion": "v3.1.0"}),
        ),
    )
    geo = await client.get("/api/system-metadata/reverse-geocoding-state", headers=admin.headers)
    assert await geo.get_json() == {
        "lastUpdate": "2024-05-01",
        "lastImportFileName": "cities500.txt",
    }
    version = await client.get("/api/system-metadata/version-check-state", headers=admin.headers)
    assert await version.get_json() == {
        "checkedAt": "2024-05-02T00:00:00.000Z",
        "releaseVersion": "v3.1.0",
    }


async def test_system_metadata_is_admin_only(client: Any, make_user: MakeUser) -> None:
    user = await make_user("user@example.com")
    for method, path in (
        ("get", "/api/system-metadata/admin-onboarding"),
        ("post", "/api/system-metadata/admin-onboarding"),
        ("get", "/api/system-metadata/reverse-geocoding-state"),
        ("get", "/api/system-metadata/version-check-state"),
    ):
        response = await getattr(client, method)(
            path, headers=user.headers, json={"isOnboarded": True}
        )
        assert (response.status_code, await response.get_json()) == (403, {"message": "Forbidden"})
