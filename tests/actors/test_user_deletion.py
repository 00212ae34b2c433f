"""The user-deletion flow on the whole server tree: soft delete and restore, ``force`` (files,
rows, ``on_user_delete`` to an admin's socket) and the nightly ``UserDeleteCheck``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, next_event, wait_for

NO_JOBS = "SELECT name, status, error FROM immich_trio.job"
USER_EXISTS = 'SELECT count(*) FROM "user" WHERE id = %s'


async def new_user(server: Server, email: str, *, is_admin: bool = False) -> User:
    return await trio.to_thread.run_sync(lambda: make_user(server.db_url, email, is_admin=is_admin))


def give_files_and_rows(server: Server, user: User, label: str | None = None) -> list[Path]:
    """An asset with its original and thumbnail in the user's folders, an owned album, a
    partner share and a profile image; returns the user's folders."""
    media = Path(server.media).resolve()
    if label is not None:
        server.sql('UPDATE "user" SET "storageLabel" = %s WHERE id = %s', (label, user.id))
    folders = [
        media / "library" / (label or user.id),
        media / "upload" / user.id,
        media / "profile" / user.id,
        media / "thumbs" / user.id,
        media / "encoded-video" / user.id,
    ]
    for folder in folders:
        (folder / "ab" / "cd").mkdir(parents=True)
        (folder / "ab" / "cd" / "file.bin").write_bytes(b"x")
    now = datetime.now(UTC)
    asset_id = str(uuid.uuid4())
    server.sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, 'IMAGE', %s, 'a.jpg', %s, 'sha1', %s, %s, %s)",
        (asset_id, user.id, str(folders[1] / "ab" / "cd" / "file.bin"), uuid.uuid4().bytes[:20],
         now, now, now),
    )
    [(album_id,)] = server.sql("INSERT INTO album (\"albumName\") VALUES ('trip') RETURNING id")
    server.sql(
        "INSERT INTO album_user (\"albumId\", \"userId\", role) VALUES (%s, %s, 'owner')",
        (album_id, user.id),
    )
    return folders


def keep_file(server: Server, user: User) -> Path:
    """A file of another user, which must survive."""
    keep = Path(server.media).resolve() / "upload" / user.id / "keep.bin"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"y")
    return keep


async def test_soft_delete_then_restore_keeps_everything(server: Server) -> None:
    admin = await new_user(server, "admin@example.com", is_admin=True)
    user = await new_user(server, "user@example.com")
    folders = give_files_and_rows(server, user)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.delete(f"/api/admin/users/{user.id}", headers=admin.headers)
        assert resp.status_code == 200 and resp.json()["status"] == "deleted"
        assert await server.asql("SELECT name FROM immich_trio.job") == []
        resp = await client.post(f"/api/admin/users/{user.id}/restore", headers=admin.headers)
        assert (resp.status_code, resp.json()["status"]) == (200, "active")
        # the nightly check finds nobody to delete
        resp = await client.post("/api/jobs", headers=admin.headers, json={"name": "user-cleanup"})
        assert resp.status_code == 204, resp.text
        await wait_for(server, NO_JOBS, (), [])
    assert await server.asql(USER_EXISTS, (user.id,)) == [(1,)]
    assert await server.asql('SELECT count(*) FROM asset WHERE "ownerId" = %s', (user.id,)) == [(1,)]
    assert all(folder.is_dir() for folder in folders)


async def test_force_delete_removes_files_and_rows_and_tells_the_admin(server: Server) -> None:
    admin = await new_user(server, "admin@example.com", is_admin=True)
    user = await new_user(server, "user@example.com")
    other = await new_user(server, "other@example.com")
    folders = give_files_and_rows(server, user, label="jane")
    server.sql(
        'INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s), (%s, %s)',
        (user.id, other.id, other.id, user.id),
    )
    keep = keep_file(server, other)
    sub = server.hub.attach(user_id=admin.id, session_id=None)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.request(
            "DELETE", f"/api/admin/users/{user.id}", headers=admin.headers, json={"force": True}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "removing"
        with trio.fail_after(LIMIT):
            assert await next_event(sub, "on_user_delete") == [user.id]
        await wait_for(server, NO_JOBS, (), [])
    assert [folder for folder in folders if folder.exists()] == []
    assert keep.is_file()
    assert await server.asql(USER_EXISTS, (user.id,)) == [(0,)]
    assert await server.asql('SELECT count(*) FROM asset WHERE "ownerId" = %s', (user.id,)) == [(0,)]
    assert await server.asql("SELECT count(*) FROM album") == [(0,)]
    assert await server.asql("SELECT count(*) FROM partner") == [(0,)]
    assert await server.asql('SELECT count(*) FROM user_audit WHERE "userId" = %s', (user.id,)) == [
        (1,)
    ]


async def test_the_nightly_check_deletes_only_users_past_the_delay(server: Server) -> None:
    admin = await new_user(server, "admin@example.com", is_admin=True)
    old = await new_user(server, "old@example.com")
    recent = await new_user(server, "recent@example.com")
    old_folders = give_files_and_rows(server, old)
    recent_folders = give_files_and_rows(server, recent)
    now = datetime.now(UTC)
    # the default delay is 7 days: one a minute past it, one a minute short of it
    for user, ago in ((old, timedelta(days=7, minutes=1)), (recent, timedelta(days=7, minutes=-1))):
        server.sql(
            'UPDATE "user" SET status = \'deleted\', "deletedAt" = %s WHERE id = %s',
            (now - ago, user.id),
        )
    sub = server.hub.attach(user_id=admin.id, session_id=None)
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.post("/api/jobs", headers=admin.headers, json={"name": "user-cleanup"})
        assert resp.status_code == 204, resp.text
        with trio.fail_after(LIMIT):
            assert await next_event(sub, "on_user_delete") == [old.id]
        await wait_for(server, NO_JOBS, (), [])
    assert await server.asql(USER_EXISTS, (old.id,)) == [(0,)]
    assert await server.asql(USER_EXISTS, (recent.id,)) == [(1,)]
    assert [folder for folder in old_folders if folder.exists()] == []
    assert all(folder.is_dir() for folder in recent_folders)
