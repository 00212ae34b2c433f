"""Hard deletion end to end: the whole server tree in-process on a real database, driven over
HTTP and the job table, watched on disk, in the database and from the owner's socket room."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from media_harness import LIMIT, Server, make_user, next_event, wait_for
from psycopg.types.json import Jsonb

from immich_trio.actors.janitor import unlink_all

NO_JOBS = "SELECT name, status, error FROM immich_trio.job"


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


async def test_force_delete_of_an_upload_removes_row_files_usage_and_tells_owner(
    server: Server, test_assets: Path
) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
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
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    other = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
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
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
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
