"""Database Backups (admin): list, download, upload, delete, and the restore flow's start."""

from __future__ import annotations

import json
from typing import Any

from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser
from tests.http.test_users import multipart

ROUTINE = "immich-db-backup-20250729T114018-v3.1.0-pg18.1.sql.gz"


async def test_list_download_delete(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    folder = runtime.settings.media_location / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ROUTINE).write_bytes(b"\x1f\x8bdump")
    (folder / "uploaded-mine.sql").write_bytes(b"SELECT 1;")
    (folder / "notes.txt").write_bytes(b"not a backup")
    (folder / f"{ROUTINE}.tmp").write_bytes(b"failed")
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user("user@example.com")

    assert (await client.get("/api/admin/database-backups", headers=user.headers)).status_code == 403
    listed = await client.get("/api/admin/database-backups", headers=admin.headers)
    assert listed.status_code == 200
    body = await listed.get_json()
    assert [b["filename"] for b in body["backups"]] == [ROUTINE, "uploaded-mine.sql"]
    assert body["backups"][0]["filesize"] == 6
    assert isinstance(body["backups"][0]["timezone"], str)

    got = await client.get(f"/api/admin/database-backups/{ROUTINE}", headers=admin.headers)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "application/gzip"
    assert await got.get_data() == b"\x1f\x8bdump"
    sql_file = await client.get("/api/admin/database-backups/uploaded-mine.sql", headers=admin.headers)
    assert sql_file.headers["Content-Type"].startswith("application/sql")

    bad = await client.get("/api/admin/database-backups/notes.txt", headers=admin.headers)
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Invalid backup name!"
    traversal = await client.get("/api/admin/database-backups/..%2F..%2Fetc%2Fpasswd", headers=admin.headers)
    assert traversal.status_code in (400, 404)

    up_one = "/".join(("..", "x.sql"))  # a name that climbs out of the backups folder
    refused = await client.delete(
        "/api/admin/database-backups", headers=admin.headers, json={"backups": [ROUTINE, up_one]}
    )
    assert refused.status_code == 400
    assert (await refused.get_json())["message"] == "Invalid backup name!"
    assert (folder / ROUTINE).exists()  # nothing half done
    deleted = await client.delete("/api/admin/database-backups", headers=admin.headers, json={"backups": [ROUTINE]})
    assert deleted.status_code == 200
    assert not (folder / ROUTINE).exists()
    assert (folder / "notes.txt").exists()


async def test_upload(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    folder = runtime.settings.media_location / "backups"
    body, headers = multipart("old.sql.gz", b"\x1f\x8bgz")
    done = await client.post("/api/admin/database-backups/upload", headers={**admin.headers, **headers}, data=body)
    assert done.status_code == 201
    assert (folder / "uploaded-old.sql.gz").read_bytes() == b"\x1f\x8bgz"

    body, headers = multipart("evil.sh", b"rm -rf /")
    refused = await client.post("/api/admin/database-backups/upload", headers={**admin.headers, **headers}, data=body)
    assert refused.status_code == 400
    assert (await refused.get_json())["message"] == "Invalid backup name!"
    assert sorted(p.name for p in folder.iterdir()) == ["uploaded-old.sql.gz"]
    tmp = runtime.settings.media_location / "upload" / ".tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


async def test_start_restore_flow(client: Any, make_user: MakeUser, sql: Any) -> None:
    started = await client.post("/api/admin/database-backups/start-restore")
    assert started.status_code == 201
    assert "immich_maintenance_token=" in started.headers["Set-Cookie"]
    state = sql("SELECT value FROM system_metadata WHERE key = 'maintenance-mode'")[0][0]
    state = state if isinstance(state, dict) else json.loads(state)
    assert state["isMaintenanceMode"] is True
    assert state["action"] == {"action": "select_database_restore"}
    assert len(state["secret"]) == 128

    sql("DELETE FROM system_metadata WHERE key = 'maintenance-mode'")
    await make_user("admin@example.com", is_admin=True)
    again = await client.post("/api/admin/database-backups/start-restore")
    assert again.status_code == 400
    assert (await again.get_json())["message"] == "The server already has an admin"
