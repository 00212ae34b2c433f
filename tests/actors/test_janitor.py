"""Hard deletion end to end: the whole server tree in-process on a real database, driven over
HTTP and the job table, watched on disk, in the database and from the owner's socket room."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import pytest
import trio
from psycopg.types.json import Jsonb

from immich_trio import crypto
from immich_trio.actors.janitor import unlink_all
from immich_trio.actors.notifier.hub import Hub, Subscription
from immich_trio.config import Settings
from immich_trio.main import build_tree, make_media_folders
from immich_trio.runtime import Runtime
from immich_trio.sql.pool import Pool

# Real clock, hard cap: the pipeline waits on threads, exiftool and PostgreSQL.
LIMIT = 60
POLL = 0.05
NO_JOBS = "SELECT name, status, error FROM immich_trio.job"


@attrs.frozen
class User:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@attrs.frozen
class Server:
    runtime: Runtime
    base: str
    db_url: str
    media: Path

    @property
    def hub(self) -> Hub:
        hub: Hub = self.runtime.hub
        return hub

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    async def asql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await trio.to_thread.run_sync(self.sql, query, params)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    port = _free_port()
    media = tmp_path / "media"
    settings = Settings(host="127.0.0.1", port=port, media_location=media, db_url=db_url)
    make_media_folders(settings)
    runtime = Runtime(settings=settings, pool=Pool(db_url), hub=Hub())
    root = build_tree(settings, runtime)
    with trio.fail_after(LIMIT):
        await nursery.start(root.run)
    yield Server(runtime=runtime, base=f"http://127.0.0.1:{port}", db_url=db_url, media=media)
    with trio.fail_after(LIMIT):
        await root.shutdown()


def make_user(server: Server, email: str) -> User:
    token = crypto.new_token()
    [(user_id,)] = server.sql(
        'INSERT INTO "user" (email, password, name, "shouldChangePassword")'
        " VALUES (%s, 'x', %s, false) RETURNING id",
        (email, email),
    )
    server.sql(
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
        (crypto.hash_token(token), user_id, "pytest", "Linux"),
    )
    return User(id=str(user_id), token=token)


def insert_asset(
    server: Server,
    owner: str,
    *,
    status: str = "active",
    visibility: str = "timeline",
    type_: str = "IMAGE",
    live_photo_video_id: str | None = None,
    size: int = 0,
) -> tuple[str, list[Path]]:
    """An asset row with an original, a sidecar and a thumbnail on disk; returns its files."""
    asset_id = str(uuid.uuid4())
    folder = server.media / "test" / asset_id
    folder.mkdir(parents=True)
    original, sidecar, thumb = folder / "a.jpg", folder / "a.jpg.xmp", folder / "thumb.webp"
    for path in (original, sidecar, thumb):
        path.write_bytes(b"x")
    now = datetime.now(UTC)
    deleted_at = None if status == "active" else now
    server.sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", status,'
        ' "deletedAt", visibility, "livePhotoVideoId")'
        " VALUES (%s, %s, %s, %s, 'a.jpg', %s, 'sha1', %s, %s, %s, %s, %s, %s, %s)",
        (
            asset_id,
            owner,
            type_,
            str(original),
            uuid.uuid4().bytes[:20],
            now,
            now,
            now,
            status,
            deleted_at,
            visibility,
            live_photo_video_id,
        ),
    )
    server.sql(
        'INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)', (asset_id, size)
    )
    for kind, path in (("sidecar", sidecar), ("thumbnail", thumb)):
        server.sql(
            'INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)',
            (asset_id, kind, str(path)),
        )
    return asset_id, [original, sidecar, thumb]


def enqueue(server: Server, name: str, data: dict[str, Any]) -> None:
    server.sql(
        "INSERT INTO immich_trio.job (queue, name, data) VALUES ('backgroundTask', %s, %s)",
        (name, Jsonb(data)),
    )
    server.sql("SELECT pg_notify('immich_trio_jobs', 'backgroundTask')")


async def next_event(sub: Subscription, name: str) -> list[Any]:
    """Arguments of the next ``name`` event on the socket (earlier events are skipped)."""
    while True:
        frame = await sub.receive()
        assert frame.startswith("42")
        decoded: list[Any] = json.loads(frame[2:])
        if decoded[0] == name:
            return decoded[1:]


async def wait_for(server: Server, query: str, params: tuple[Any, ...], expected: Any) -> None:
    """Poll the database (jobs change in another task's transactions) until it shows ``expected``."""
    seen: Any = None
    for _ in range(int(LIMIT / POLL)):
        seen = await server.asql(query, params)
        if seen == expected:
            return
        await trio.sleep(POLL)
    raise AssertionError(f"never saw {expected!r} for {query}, last {seen!r}")


async def test_force_delete_of_an_upload_removes_row_files_usage_and_tells_owner(
    server: Server, test_assets: Path
) -> None:
    user = await trio.to_thread.run_sync(make_user, server, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    photo = test_assets / "metadata/gps-position/empty_gps.jpg"
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        with trio.fail_after(LIMIT):
            resp = await client.post(
                "/api/assets",
                headers=user.headers,
                data={
                    "deviceAssetId": "a-1",
                    "deviceId": "pytest",
                    "fileCreatedAt": "2024-01-15T10:30:00.000Z",
                    "fileModifiedAt": "2024-01-15T10:30:00.000Z",
                },
                files={"assetData": ("a.jpg", photo.read_bytes(), "application/octet-stream")},
            )
            assert resp.status_code == 201, resp.text
            asset_id = resp.json()["id"]
            await next_event(sub, "on_upload_success")  # thumbnails written
        [(original,)] = await server.asql(
            'SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,)
        )
        generated = [
            p
            for (p,) in await server.asql(
                'SELECT path FROM asset_file WHERE "assetId" = %s', (asset_id,)
            )
        ]
        files = [Path(original), *map(Path, generated)]
        assert len(files) >= 3 and all(p.is_file() for p in files)
        [(usage,)] = await server.asql(
            'SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)
        )
        assert usage == photo.stat().st_size

        resp = await client.request(
            "DELETE", "/api/assets", headers=user.headers, json={"ids": [asset_id], "force": True}
        )
        assert resp.status_code == 204, resp.text
        with trio.fail_after(LIMIT):
            assert await next_event(sub, "on_asset_delete") == [asset_id]
        await wait_for(server, NO_JOBS, (), [])

    assert await server.asql("SELECT id FROM asset WHERE id = %s", (asset_id,)) == []
    assert await server.asql('SELECT 1 FROM asset_audit WHERE "assetId" = %s', (asset_id,)) == [
        (1,)
    ]
    assert [p for p in files if p.exists()] == []
    assert await server.asql(
        'SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)
    ) == [(0,)]


async def test_empty_trash_deletes_only_the_trash_and_its_live_photo_video(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server, "owner@example.com")
    other = await trio.to_thread.run_sync(make_user, server, "other@example.com")
    server.sql('UPDATE "user" SET "quotaUsageInBytes" = 1000 WHERE id = %s', (user.id,))
    sub = server.hub.attach(user_id=user.id, session_id=None)
    other_sub = server.hub.attach(user_id=other.id, session_id=None)
    video, video_files = insert_asset(server, user.id, visibility="hidden", type_="VIDEO", size=50)
    photo, photo_files = insert_asset(
        server, user.id, status="trashed", live_photo_video_id=video, size=300
    )
    kept, kept_files = insert_asset(server, user.id, size=200)
    theirs, their_files = insert_asset(server, other.id, status="trashed", size=10)

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.post("/api/trash/empty", headers=user.headers)
    assert resp.status_code == 200 and resp.json() == {"count": 1}
    with trio.fail_after(LIMIT):
        deleted = {(await next_event(sub, "on_asset_delete"))[0] for _ in range(2)}
    assert deleted == {photo, video}
    await wait_for(server, NO_JOBS, (), [])

    rows = await server.asql("SELECT id::text, status::text FROM asset ORDER BY id")
    assert sorted(rows) == sorted([(kept, "active"), (theirs, "trashed")])
    assert [p for p in photo_files + video_files if p.exists()] == []
    assert all(p.exists() for p in kept_files + their_files)
    # The hidden motion part never counted towards usage.
    assert await server.asql(
        'SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)
    ) == [(700,)]
    with pytest.raises(trio.WouldBlock):
        while True:
            assert "on_asset_delete" not in other_sub._receive.receive_nowait()


async def test_file_delete_of_missing_files_succeeds_and_other_jobs_are_skipped(
    server: Server,
) -> None:
    present = server.media / "present.txt"
    present.write_bytes(b"x")
    enqueue(server, "FileDelete", {"files": [str(present), str(server.media / "gone.txt")]})
    enqueue(server, "TagCleanup", {})
    await wait_for(server, NO_JOBS, (), [])
    assert not present.exists()


async def test_asset_delete_check_removes_expired_trash(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server, "owner@example.com")
    old, old_files = insert_asset(server, user.id, status="trashed")
    recent, _ = insert_asset(server, user.id, status="trashed")
    server.sql(
        """UPDATE asset SET "deletedAt" = now() - interval '31 days' WHERE id = %s""", (old,)
    )
    enqueue(server, "AssetDeleteCheck", {})
    await wait_for(server, NO_JOBS, (), [])
    assert await server.asql("SELECT id::text FROM asset") == [(recent,)]
    assert [p for p in old_files if p.exists()] == []


def test_unlink_all_reports_what_it_cannot_remove(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    errors = unlink_all([str(tmp_path / "missing"), str(folder)])
    assert len(errors) == 1 and errors[0].startswith(str(folder))
