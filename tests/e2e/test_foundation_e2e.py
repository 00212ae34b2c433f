"""The foundation, end to end: a real server process with its embedded PostgreSQL.

Sign-up, login, users/me, a limited API key, logout, restart persistence, the status tree and
CLI, and recovery after the embedded database is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from tests.e2e.conftest import ServerProcess, call, free_port

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last={last!r}")


def _find(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    if node["name"] == name:
        return node
    for child in node.get("children") or []:
        found = _find(child, name)
        if found is not None:
            return found
    return None


def test_admin_flow_api_keys_logout_and_restart(server_factory: Any) -> None:
    # Telemetry on: the metrics get their own port (Immich's IMMICH_API_METRICS_PORT).
    metrics_port = free_port()
    server: ServerProcess = server_factory(
        {"IMMICH_TELEMETRY_INCLUDE": "all", "IMMICH_API_METRICS_PORT": str(metrics_port)}
    )
    server.start()
    api = server.api
    assert call(api, "GET", "/server/config").body["isInitialized"] is False

    signup = call(api, "POST", "/auth/admin-sign-up", ADMIN)
    assert signup.status == 201, signup.body
    assert signup.body["email"] == ADMIN["email"] and signup.body["isAdmin"] is True
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).body == {"message": "The server already has an admin"}

    login = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    assert login.status == 201, login.body
    token = login.body["accessToken"]
    session = {"Authorization": f"Bearer {token}"}
    assert "immich_access_token=" in login.headers.get("set-cookie", "")

    me = call(api, "GET", "/users/me", headers=session)
    assert me.status == 200 and me.body["email"] == ADMIN["email"] and me.body["isAdmin"] is True

    created = call(api, "POST", "/api-keys", {"name": "reader", "permissions": ["user.read"]}, session)
    assert created.status == 201, created.body
    key = {"x-api-key": created.body["secret"]}
    assert call(api, "GET", "/users/me", headers=key).status == 200
    refused = call(api, "GET", "/server/statistics", headers=key)
    assert refused.status == 403
    assert refused.body == {"message": "Missing required permission: server.statistics"}

    full = call(api, "POST", "/api-keys", {"name": "ops", "permissions": ["all"]}, session)
    ops_key = {"x-api-key": full.body["secret"]}

    # Restart: users, sessions and keys survive.
    assert server.stop() == 0
    server.start()
    assert call(api, "GET", "/users/me", headers=session).status == 200
    assert call(api, "GET", "/users/me", headers=key).body["email"] == ADMIN["email"]
    assert call(api, "GET", "/server/config").body["isInitialized"] is True

    # The status tree, over HTTP and through the CLI.
    status = call(api, "GET", "/reactor/status", headers=ops_key)
    assert status.status == 200
    root = status.body["supervisors"][0]
    assert root["name"] == "immich-trio" and root["state"] == "running"
    assert _find(root, "postgres")["state"] == "running"
    assert _find(root, "http")["state"] == "running"
    assert call(api, "GET", "/reactor/status", headers=key).status == 403
    cli = subprocess.run(
        [sys.executable, "-m", "immich_trio", "status", "--url", server.url, "--api-key", full.body["secret"]],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "immich-trio [supervisor] running" in cli.stdout
    assert "postgres [task] running" in cli.stdout
    metrics = call(f"http://127.0.0.1:{metrics_port}", "GET", "/metrics")
    assert metrics.status == 200
    assert call(server.url, "GET", "/metrics").status == 404  # never on the API port
    assert 'immich_trio_state{node="immich-trio/database/postgres",state="running"} 1' in metrics.body.decode()

    # Logout invalidates the token.
    logout = call(api, "POST", "/auth/logout", headers=session)
    assert logout.status == 200 and logout.body["successful"] is True
    assert call(api, "GET", "/users/me", headers=session).body == {"message": "Invalid user token"}


def test_embedded_database_killed_then_recovered(server: ServerProcess) -> None:
    api = server.api
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
        "accessToken"
    ]
    session = {"Authorization": f"Bearer {token}"}
    assert call(api, "GET", "/reactor/status", headers=session).status == 200

    pid_file = server.media / "postgres" / "postmaster.pid"
    pid = int(pid_file.read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)

    # While it is down (or coming back): 503, never a hang or a 500.
    seen = _wait_for(lambda: call(api, "GET", "/users/me", headers=session, timeout=15).status, 30, "an answer")
    assert seen in (503, 200)

    def restarted() -> dict[str, Any] | None:
        body = call(api, "GET", "/reactor/status", headers=session, timeout=15).body
        node = _find(body["supervisors"][0], "postgres") if isinstance(body, dict) and "supervisors" in body else None
        return node if node and node["restarts"] >= 1 else None

    node = _wait_for(restarted, 60, "the postgres restart in the status tree")
    assert node["last_error"]["type"] == "EmbeddedPostgresDied"

    _wait_for(lambda: call(api, "GET", "/users/me", headers=session, timeout=15).status == 200, 60, "recovery")
    new_pid = int(pid_file.read_text().splitlines()[0])
    assert new_pid != pid
