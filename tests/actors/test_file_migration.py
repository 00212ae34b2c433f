"""The file migration (``PUT /api/jobs/migration`` start) on the whole server tree: generated
files recorded at paths of an older layout move to today's, their rows follow, a half-done move
left by a killed run is finished, and what cannot or need not move stays as it is."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import trio
from media_harness import Server, User, make_user, wait_for
from test_manual_jobs import NO_JOBS


def nested(root: Path, owner: str, entity: str, name: str) -> Path:
    return root / owner / entity[0:2] / entity[2:4] / name


def add_asset(server: Server, owner: str) -> str:
    asset_id = str(uuid.uuid4())
    server.sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, 'IMAGE', '/x.jpg', 'x.jpg', %s, 'sha1', now(), now(), now())",
        (asset_id, owner, uuid.uuid4().bytes[:20]),
    )
    return asset_id


def add_file(server: Server, asset_id: str, kind: str, path: Path, content: bytes | None) -> None:
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    server.sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (asset_id, kind, str(path)))


def files_of(server: Server, asset_id: str) -> dict[str, str]:
    rows = server.sql('SELECT type, path FROM asset_file WHERE "assetId" = %s AND NOT "isEdited"', (asset_id,))
    return {kind: path for kind, path in rows}


async def start_migration(server: Server, admin: User) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
        response = await client.put("/api/jobs/migration", json={"command": "start"}, headers=admin.headers)
        assert response.status_code == 200, response.text
    await wait_for(server, NO_JOBS, (), [])


async def users(server: Server) -> tuple[User, str]:
    admin = await trio.to_thread.run_sync(lambda: make_user(server.db_url, "admin@example.com", is_admin=True))
    owner = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    return admin, owner.id


async def test_generated_files_move_to_the_current_layout(server: Server) -> None:
    admin, owner = await users(server)
    thumbs, videos = server.media / "thumbs", server.media / "encoded-video"
    legacy = thumbs / owner / "legacy"

    moved = add_asset(server, owner)  # an install made by an older layout: flat paths
    add_file(server, moved, "preview", legacy / f"{moved}.jpeg", b"preview bytes")
    add_file(server, moved, "thumbnail", legacy / f"{moved}.webp", b"thumbnail bytes")
    add_file(server, moved, "encoded_video", videos / owner / f"{moved}.mp4", b"video bytes")
    in_place = nested(thumbs, owner, moved, f"{moved}_fullsize.jpeg")
    add_file(server, moved, "fullsize", in_place, b"fullsize bytes")

    missing = add_asset(server, owner)  # recorded, but the file is gone: the row stays
    gone = legacy / f"{missing}.jpeg"
    add_file(server, missing, "preview", gone, None)

    crashed = add_asset(server, owner)  # a run killed after its rename, before the row changed
    old = legacy / f"{crashed}.webp"
    new = nested(thumbs, owner, crashed, f"{crashed}_thumbnail.webp")
    add_file(server, crashed, "thumbnail", old, None)
    new.parent.mkdir(parents=True, exist_ok=True)
    new.write_bytes(b"renamed before the kill")
    server.sql(
        'INSERT INTO move_history ("entityId", "pathType", "oldPath", "newPath") VALUES (%s, %s, %s, %s)',
        (crashed, "thumbnail", str(old), str(new)),
    )

    person, faceless = str(uuid.uuid4()), str(uuid.uuid4())
    face = thumbs / owner / f"{person}.jpeg"
    face.write_bytes(b"face bytes")
    for person_id, path in ((person, str(face)), (faceless, "")):
        server.sql(
            'INSERT INTO person (id, "ownerId", "thumbnailPath") VALUES (%s, %s, %s)', (person_id, owner, path)
        )

    await start_migration(server, admin)

    expected = {
        "preview": nested(thumbs, owner, moved, f"{moved}_preview.jpeg"),
        "thumbnail": nested(thumbs, owner, moved, f"{moved}_thumbnail.webp"),
        "encoded_video": nested(videos, owner, moved, f"{moved}.mp4"),
        "fullsize": in_place,
    }
    assert files_of(server, moved) == {kind: str(path) for kind, path in expected.items()}
    contents = {kind: path.read_bytes() for kind, path in expected.items()}
    assert contents == {
        "preview": b"preview bytes",
        "thumbnail": b"thumbnail bytes",
        "encoded_video": b"video bytes",
        "fullsize": b"fullsize bytes",
    }
    assert not (legacy / f"{moved}.jpeg").exists() and not (videos / owner / f"{moved}.mp4").exists()

    assert files_of(server, missing) == {"preview": str(gone)}
    assert files_of(server, crashed) == {"thumbnail": str(new)}
    assert new.read_bytes() == b"renamed before the kill"

    face_now = nested(thumbs, owner, person, f"{person}.jpeg")
    people = dict(server.sql('SELECT id::text, "thumbnailPath" FROM person'))
    assert people == {person: str(face_now), faceless: ""}
    assert face_now.read_bytes() == b"face bytes" and not face.exists()
    assert server.sql("SELECT * FROM move_history") == []

    # a second run finds nothing to move and, alone in its queue, removes the emptied folder
    assert legacy.is_dir() and not any(legacy.iterdir())
    await start_migration(server, admin)
    assert not legacy.exists()
    assert files_of(server, moved) == {kind: str(path) for kind, path in expected.items()}


async def test_a_changed_format_renames_the_file_as_immich_does(server: Server) -> None:
    admin, owner = await users(server)
    asset_id = add_asset(server, owner)
    webp = nested(server.media / "thumbs", owner, asset_id, f"{asset_id}_preview.webp")
    add_file(server, asset_id, "preview", webp, b"RIFF....WEBP")  # made while previews were WebP
    await start_migration(server, admin)  # the configured preview format is JPEG (the default)
    jpeg = webp.with_name(f"{asset_id}_preview.jpeg")
    assert files_of(server, asset_id) == {"preview": str(jpeg)}
    assert jpeg.read_bytes() == b"RIFF....WEBP" and not webp.exists()
