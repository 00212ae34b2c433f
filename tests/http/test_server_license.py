"""Tag "Server", licence routes: admin only, Immich's signature check, stored in system_metadata."""

from __future__ import annotations

import re
from typing import Any

import attrs

from immich_trio.license_keys import STAGING_KEYS
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser
from tests.license_examples import (
    IMMICH_TEST_CLIENT_LICENSE,
    IMMICH_TEST_SERVER_LICENSE,
    INVALID_LICENSE,
)

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def test_server_license_round_trip(client: Any, make_user: MakeUser, runtime: Runtime, sql: Any) -> None:
    runtime.settings = attrs.evolve(runtime.settings, license_keys=STAGING_KEYS)
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user("user@example.com")
    key, activation = IMMICH_TEST_SERVER_LICENSE

    for method in ("get", "put", "delete"):
        denied = await getattr(client, method)("/api/server/license", headers=user.headers)
        assert denied.status_code == 403
    missing = await client.get("/api/server/license", headers=admin.headers)
    assert missing.status_code == 404

    wrong_prefix = await client.put(
        "/api/server/license",
        headers=admin.headers,
        json={"licenseKey": IMMICH_TEST_CLIENT_LICENSE[0], "activationKey": IMMICH_TEST_CLIENT_LICENSE[1]},
    )
    assert (wrong_prefix.status_code, await wrong_prefix.get_json()) == (400, INVALID_LICENSE)
    forged = await client.put(
        "/api/server/license",
        headers=admin.headers,
        json={"licenseKey": key, "activationKey": "invalid" + activation},
    )
    assert (forged.status_code, await forged.get_json()) == (400, INVALID_LICENSE)
    assert sql("SELECT 1 FROM system_metadata WHERE key = 'license'") == []

    put = await client.put(
        "/api/server/license", headers=admin.headers, json={"licenseKey": key, "activationKey": activation}
    )
    assert put.status_code == 200
    body = await put.get_json()
    assert list(body) == ["licenseKey", "activationKey", "activatedAt"]
    assert (body["licenseKey"], body["activationKey"]) == (key, activation)
    assert ISO_Z.match(body["activatedAt"])
    rows = sql("SELECT value FROM system_metadata WHERE key = 'license'")
    assert rows[0][0]["licenseKey"] == key
    got = await client.get("/api/server/license", headers=admin.headers)
    assert (got.status_code, await got.get_json()) == (200, body)
    about = await (await client.get("/api/server/about", headers=admin.headers)).get_json()
    assert about["licensed"] is True

    deleted = await client.delete("/api/server/license", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get("/api/server/license", headers=admin.headers)).status_code == 404


async def test_production_keys_refuse_immich_test_keys(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    key, activation = IMMICH_TEST_SERVER_LICENSE
    put = await client.put(
        "/api/server/license", headers=admin.headers, json={"licenseKey": key, "activationKey": activation}
    )
    assert (put.status_code, await put.get_json()) == (400, INVALID_LICENSE)
    user_key, user_activation = IMMICH_TEST_CLIENT_LICENSE
    mine = await client.put(
        "/api/users/me/license", headers=admin.headers, json={"licenseKey": user_key, "activationKey": user_activation}
    )
    assert (mine.status_code, await mine.get_json()) == (400, INVALID_LICENSE)
