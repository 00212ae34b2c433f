"""The maintenance action ``restore_database`` end to end over HTTP: the restorer and the
maintenance watch run as the server runs them, against the real PostgreSQL of the tests."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from immich_trio.actors.database_backup import default_pg_dump, dump
from immich_trio.actors.maintenance_restore import DatabaseRestorer
from immich_trio.actors.maintenance_watch import MaintenanceWatch
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]
BACKUP = "immich-db-backup-20250101T000000-v3.1.0-pg18.sql.gz"
ORDER = ["ready", "backup", "restore", "migrations"]


async def _start(runtime: Runtime, nursery: trio.Nursery) -> None:
    restorer = DatabaseRestorer(runtime.pool, runtime.settings.media_location, now=lambda: datetime.now(UTC))
    await nursery.start(restorer.run)
    await nursery.start(MaintenanceWatch(runtime.pool, runtime.maintenance).run)
    runtime.restorer = restorer.address


def _emails(sql: Sql) -> set[str]:
    return {row[0] for row in sql('SELECT email FROM "user"')}


async def _follow(client: Any, cookie: dict[str, str], until: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Poll the status until ``until`` holds; every answer seen, in order."""
    seen: list[dict[str, Any]] = []
    with trio.fail_after(120):
        while True:
            answer = await client.get("/api/admin/maintenance/status", headers=cookie)
            if answer.status_code == 200:
                seen.append(await answer.get_json())
                if until(seen[-1]):
                    return seen
            await trio.sleep(0.05)


async def _enter(client: Any, admin_headers: dict[str, str], filename: str) -> dict[str, str]:
    on = await client.post(
        "/api/admin/maintenance", headers=admin_headers,
        json={"action": "restore_database", "restoreBackupFilename": filename},
    )  # fmt: skip
    assert on.status_code == 201, await on.get_json()
    token = on.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    client.cookie_jar.clear()
    return {"Cookie": f"immich_maintenance_token={token}"}


async def test_restore_brings_back_the_backup_and_ends_maintenance(
    client: Any, make_user: MakeUser, runtime: Runtime, nursery: trio.Nursery, db_url: str, sql: Sql
) -> None:
    await _start(runtime, nursery)
    admin = await make_user("admin@example.com", is_admin=True, name="Admin")
    folder = runtime.settings.media_location / "backups"
    await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    await dump(default_pg_dump(), db_url, folder / BACKUP)
    await make_user("after@example.com")

    bad = await client.post(
        "/api/admin/maintenance", headers=admin.headers,
        json={"action": "restore_database", "restoreBackupFilename": "bad name!.sql"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Invalid backup name!"

    cookie = await _enter(client, admin.headers, BACKUP)
    seen = await _follow(client, cookie, lambda s: not s["active"] or s.get("task") == "error")
    assert seen[-1] == {"active": False, "action": "end"}, seen
    tasks = [s["task"] for s in seen if "task" in s]
    assert all(s["action"] == "restore_database" for s in seen[:-1])
    assert tasks == sorted(tasks, key=ORDER.index)  # the tasks come in Immich's order
    for _ in range(200):  # the watch hears the restored database's state
        if not runtime.maintenance.active:
            break
        await trio.sleep(0.05)
    assert not runtime.maintenance.active

    assert _emails(sql) == {"admin@example.com"}
    names = await trio.to_thread.run_sync(lambda: sorted(p.name for p in folder.iterdir()))
    assert names[0] == BACKUP and names[1].startswith("restore-point-immich-db-backup-"), names
    login = await client.post("/api/auth/login", json={"email": "admin@example.com", "password": "password"})
    assert login.status_code == 201
    assert (await client.get("/api/users/me", headers=admin.headers)).status_code == 200


async def test_a_corrupt_backup_keeps_maintenance_with_the_error(
    client: Any, make_user: MakeUser, runtime: Runtime, nursery: trio.Nursery, sql: Sql
) -> None:
    await _start(runtime, nursery)
    admin = await make_user("admin@example.com", is_admin=True, name="Admin")
    await make_user("other@example.com")
    folder: Path = runtime.settings.media_location / "backups"
    await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    data = gzip.compress(b"CREATE TABLE x (id int);\nTHIS IS NOT SQL;\n")
    await trio.to_thread.run_sync((folder / BACKUP).write_bytes, data[: len(data) - 4])

    cookie = await _enter(client, admin.headers, BACKUP)
    seen = await _follow(client, cookie, lambda s: s.get("task") == "error" or not s["active"])
    last = seen[-1]
    assert (last["active"], last["action"], last["task"]) == (True, "restore_database", "error"), seen
    assert "Corrupt backup" in last["error"]
    public = await (await client.get("/api/admin/maintenance/status")).get_json()
    assert public["error"] == "Something went wrong, see logs!"
    assert runtime.maintenance.active
    assert _emails(sql) == {"admin@example.com", "other@example.com"}

    missing = await client.post(
        "/api/admin/maintenance", headers=cookie,
        json={"action": "restore_database", "restoreBackupFilename": "uploaded-none.sql.gz"},
    )  # fmt: skip
    assert missing.status_code == 201
    seen = await _follow(client, cookie, lambda s: s.get("task") == "error" and "uploaded-none" in s.get("error", ""))
    assert _emails(sql) == {"admin@example.com", "other@example.com"}
    assert (await client.post("/api/admin/maintenance", headers=cookie, json={"action": "end"})).status_code == 201
    assert not runtime.maintenance.active
