"""Two api processes on one database: what one of them changes (logout, a user's name, an API
key) reaches the other's credential cache by NOTIFY, without waiting for entries to expire."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from immich_trio.sql.credential_cache import TTL
from tests.e2e.conftest import ServerProcess, call

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
DEADLINE = 10.0
"""Seconds a NOTIFY may take to reach the other process on a busy machine (well under TTL)."""
assert DEADLINE < TTL


@pytest.fixture
def two_api_processes(server_factory: Any, db_url: str, tmp_path: Path) -> tuple[ServerProcess, ServerProcess]:
    # One database, one media folder (Immich's folder checks bind them), two processes.
    media = tmp_path / "shared-media"
    servers = []
    for _ in ("one", "two"):
        servers.append(
            server_factory({"DB_URL": db_url, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_WORKERS_INCLUDE": "api"})
        )
    for server in servers:
        server.start()
    return servers[0], servers[1]


def _wait_for(server: ServerProcess, headers: dict[str, str], expected: tuple[int, str | None]) -> None:
    """Poll ``/users/me`` on ``server`` until it answers ``(status, name)``; fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while True:
        got = call(server.api, "GET", "/users/me", headers=headers)
        seen = (got.status, got.body.get("name") if got.status == 200 else None)
        if seen == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{server.url} still answers {seen}, expected {expected}")
        time.sleep(0.05)


def test_changes_through_one_process_reach_the_others_cache(
    two_api_processes: tuple[ServerProcess, ServerProcess], db_url: str
) -> None:
    one, two = two_api_processes
    assert call(one.api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    login = call(one.api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    session = {"Authorization": f"Bearer {login.body['accessToken']}"}
    created = call(one.api, "POST", "/api-keys", {"name": "k", "permissions": ["all"]}, session)
    key_id, key = created.body["apiKey"]["id"], {"x-api-key": created.body["secret"]}
    for headers in (session, key):
        assert call(two.api, "GET", "/users/me", headers=headers).body["name"] == "Admin"

    # Process two answers from its cache: a change made behind both servers' backs stays unseen.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE "user" SET name = 'By hand'""")
    for headers in (session, key):
        assert call(two.api, "GET", "/users/me", headers=headers).body["name"] == "Admin"

    # A change made through process one reaches process two's cache.
    assert call(one.api, "PUT", "/users/me", {"name": "Renamed"}, session).status == 200
    _wait_for(two, session, (200, "Renamed"))
    _wait_for(two, key, (200, "Renamed"))

    assert call(one.api, "DELETE", f"/api-keys/{key_id}", headers=session).status == 204
    _wait_for(two, key, (401, None))

    assert call(one.api, "POST", "/auth/logout", headers=session).status == 200
    _wait_for(two, session, (401, None))
