"""The storage template actor on a real database and a real media folder: where originals,
sidecars and live-photo videos end up, and that a move interrupted anywhere leaves exactly
one file, recorded where it is."""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors import file_moves as moves_module
from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.storage_template import StorageTemplateActor
from immich_trio.sql import move_history as q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files
from immich_trio.storage.template import parse_template

LIMIT = 30
TAKEN = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
DEFAULT = "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}"
Sql = Callable[..., list[tuple[Any, ...]]]


def enable(sql: Sql, template: str = DEFAULT, enabled: bool = True) -> None:
    config = {"storageTemplate": {"enabled": enabled, "template": template}}
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(config),),
    )


def add_asset(
    sql: Sql, media: Path, owner: str, name: str, *, content: bytes = b"photo bytes", kind: str = "IMAGE",
    sidecar: bool = False, visibility: str = "timeline", taken: datetime = TAKEN, external: bool = False,
) -> tuple[str, Path]:  # fmt: skip
    """An asset as the pipeline leaves it after metadata: row, exif size, file, thumbnail row."""
    asset_id = str(uuid.uuid4())
    path = files.upload_path(media, owner, uuid.uuid4(), Path(name).suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",'
        ' "fileCreatedAt", "fileModifiedAt", "localDateTime", visibility, "isExternal")'
        " VALUES (%s, %s, %s, %s, %s, %s, 'sha1', %s, %s, %s, %s, %s)",
        (asset_id, owner, kind, str(path), name, os.urandom(20), taken, taken, taken, visibility, external),
    )
    sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte", make) VALUES (%s, %s, %s)', (asset_id, len(content), "SONY"))
    sql(
        "INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'thumbnail', %s)",
        (asset_id, f"{media}/thumbs/{owner}/x/y/{asset_id}_thumbnail.webp"),
    )
    if sidecar:
        xmp = path.with_name(path.name + ".xmp")
        xmp.write_bytes(b"<x:xmpmeta/>")
        sql("INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'sidecar', %s)", (asset_id, str(xmp)))
    return asset_id, path


def original(sql: Sql, asset_id: str) -> Path:
    [(path,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    return Path(path)


def read(path: Path | str) -> bytes:
    return Path(path).read_bytes()


def exists(path: Path) -> bool:
    return path.exists()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


async def start(nursery: trio.Nursery, pool: Pool, media: Path) -> StorageTemplateActor:
    actor = StorageTemplateActor(pool, media, zone=UTC)
    await nursery.start(actor.run)
    return actor


async def run(actor: StorageTemplateActor, name: str, data: dict[str, Any]) -> JobResult:
    job = Job(id=1, queue="storageTemplateMigration", name=name, data=data, attempt=1, max_attempts=3, created_at=TAKEN)
    with trio.fail_after(LIMIT):
        result: JobResult = await actor.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


async def single(actor: StorageTemplateActor, asset_id: str, source: str | None = "upload") -> JobResult:
    return await run(actor, "StorageTemplateMigrationSingle", {"id": asset_id, **({"source": source} if source else {})})


async def apply(pool: Pool, result: JobResult) -> None:
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)


async def test_single_moves_the_original_and_its_sidecar_and_queues_thumbnails(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql)
    asset_id, old = add_asset(sql, media, owner, "IMG_0001.JPEG", sidecar=True)
    actor = await start(nursery, pool, media)
    result = await single(actor, asset_id)
    assert result.status == "success"
    await apply(pool, result)

    new = media / "library" / owner / "2024" / "2024-01-15" / "IMG_0001.jpg"  # Immich's spelling
    assert original(sql, asset_id) == new
    assert read(new) == b"photo bytes" and not exists(old)
    assert sql("SELECT type, path FROM asset_file WHERE \"assetId\" = %s ORDER BY type", (asset_id,)) == [
        ("sidecar", f"{new}.xmp"),
        ("thumbnail", f"{media}/thumbs/{owner}/x/y/{asset_id}_thumbnail.webp"),  # untouched
    ]
    assert read(f"{new}.xmp") == b"<x:xmpmeta/>"
    assert files_under(media / "library") == [f"{owner}/2024/2024-01-15/IMG_0001.jpg", f"{owner}/2024/2024-01-15/IMG_0001.jpg.xmp"]
    assert sql("SELECT count(*) FROM move_history") == [(0,)]
    assert sql("SELECT name, data FROM immich_trio.job") == [
        ("AssetGenerateThumbnails", {"id": asset_id, "source": "upload"})
    ]


async def test_storage_label_names_the_folder_and_collisions_get_plus_n(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql, "{{y}}/{{filename}}")
    sql('UPDATE "user" SET "storageLabel" = %s WHERE id = %s', ("alice", owner))
    first, _ = add_asset(sql, media, owner, "IMG.jpg", content=b"one")
    second, _ = add_asset(sql, media, owner, "IMG.jpg", content=b"two")
    third, _ = add_asset(sql, media, owner, "IMG.jpg", content=b"three")
    actor = await start(nursery, pool, media)
    for asset_id in (first, second, third):
        assert (await single(actor, asset_id, source=None)).status == "success"
    folder = media / "library" / "alice" / "2024"
    assert [original(sql, a) for a in (first, second, third)] == [folder / "IMG.jpg", folder / "IMG+1.jpg", folder / "IMG+2.jpg"]
    assert [read(folder / n) for n in ("IMG.jpg", "IMG+1.jpg", "IMG+2.jpg")] == [b"one", b"two", b"three"]
    # a second run leaves a +N name where it is (already migrated)
    assert (await single(actor, second, source=None)).status == "success"
    assert original(sql, second) == folder / "IMG+1.jpg"
    assert files_under(media / "library") == ["alice/2024/IMG+1.jpg", "alice/2024/IMG+2.jpg", "alice/2024/IMG.jpg"]


async def test_disabled_template_skips_and_still_queues_thumbnails(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql, enabled=False)
    asset_id, old = add_asset(sql, media, owner, "IMG_0001.jpg")
    actor = await start(nursery, pool, media)
    result = await single(actor, asset_id, source="copy")
    assert result.status == "skipped"
    await apply(pool, result)
    assert original(sql, asset_id) == old and exists(old)
    assert sql("SELECT name, data FROM immich_trio.job") == [
        ("AssetGenerateThumbnails", {"id": asset_id, "source": "copy"})
    ]


async def test_live_photo_video_moves_beside_its_still(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql, "{{y}}/{{MM}}/{{filename}}")
    video, _ = add_asset(sql, media, owner, "IMG_0002.MOV", kind="VIDEO", visibility="hidden",
                         taken=datetime(2020, 5, 5, tzinfo=UTC), content=b"motion")  # fmt: skip
    still, _ = add_asset(sql, media, owner, "IMG_0002.HEIC")
    sql('UPDATE asset SET "livePhotoVideoId" = %s WHERE id = %s', (video, still))
    actor = await start(nursery, pool, media)
    assert (await single(actor, still)).status == "success"
    folder = media / "library" / owner / "2024" / "01"  # the still's date for both
    assert original(sql, still) == folder / "IMG_0002.heic"
    assert original(sql, video) == folder / "IMG_0002.mov"
    assert read(folder / "IMG_0002.mov") == b"motion"


async def test_missing_asset_fails(nursery: trio.Nursery, pool: Pool, media: Path, sql: Sql) -> None:
    enable(sql)
    actor = await start(nursery, pool, media)
    result = await single(actor, str(uuid.uuid4()))
    assert (result.status, result.error, result.apply) == ("failed", "asset not found", None)


async def test_migration_moves_every_asset_by_album_and_skips_external_ones(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql, "{{#if album}}{{album}}{{else}}Other{{/if}}/{{filename}}")
    in_album, _ = add_asset(sql, media, owner, "a.jpg")
    loose, _ = add_asset(sql, media, owner, "b.jpg")
    external, outside = add_asset(sql, media, owner, "c.jpg", external=True)
    trashed, in_trash = add_asset(sql, media, owner, "d.jpg")
    sql('UPDATE asset SET "deletedAt" = now() WHERE id = %s', (trashed,))
    [(album,)] = sql("INSERT INTO album (\"albumName\") VALUES ('Trip. to Rome & Co') RETURNING id")
    sql("INSERT INTO album_user (\"albumId\", \"userId\", role) VALUES (%s, %s, 'owner')", (album, owner))
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, in_album))
    sql(
        "INSERT INTO move_history (\"entityId\", \"pathType\", \"oldPath\", \"newPath\")"
        " VALUES (%s, 'original', '/gone/a', '/gone/b')",
        (str(uuid.uuid4()),),
    )
    actor = await start(nursery, pool, media)
    assert (await run(actor, "StorageTemplateMigration", {})).status == "success"
    root = media / "library" / owner
    # dots are dropped from album names, and Handlebars escapes {{album}}
    assert original(sql, in_album) == root / "Trip to Rome &amp; Co" / "a.jpg"
    assert original(sql, loose) == root / "Other" / "b.jpg"
    assert original(sql, external) == outside and exists(outside)
    assert original(sql, trashed) == in_trash and exists(in_trash)
    assert sql("SELECT count(*) FROM move_history") == [(0,)]  # rows of gone assets cleaned
    assert (await run(actor, "StorageTemplateMigration", {})).status == "success"  # nothing left to do
    assert files_under(media / "library") == [f"{owner}/Other/b.jpg", f"{owner}/Trip to Rome &amp; Co/a.jpg"]


class Killed(Exception):
    """Stands for the process dying at that point."""


@pytest.fixture
def relocate_then_die(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    real = moves_module.relocate

    def arm(after_move: bool) -> None:
        def dying(src: Path, dst: Path, *, expected_size: int | None = None, checksum: bytes | None = None) -> None:
            if after_move:
                real(src, dst, expected_size=expected_size, checksum=checksum)
            raise Killed

        monkeypatch.setattr(moves_module, "relocate", dying)

    yield arm
    monkeypatch.setattr(moves_module, "relocate", real)


@pytest.mark.parametrize("after_move", [False, True], ids=["before-the-rename", "after-the-rename"])
async def test_a_move_killed_midway_is_finished_by_the_next_run(
    pool: Pool, media: Path, owner: str, sql: Sql, relocate_then_die: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch, after_move: bool,
) -> None:  # fmt: skip
    enable(sql)
    asset_id, old = add_asset(sql, media, owner, "IMG_0003.jpg")
    new = media / "library" / owner / "2024" / "2024-01-15" / "IMG_0003.jpg"
    nodes = parse_template(DEFAULT)
    dying = StorageTemplateActor(pool, media, zone=UTC)
    relocate_then_die(after_move)
    async with pool.connection() as conn:
        with pytest.raises(Killed):
            await dying.move_asset(conn, nodes, uuid.UUID(asset_id))
    # the row says where the file is going; the file is at one place only
    assert sql('SELECT "oldPath", "newPath" FROM move_history') == [(str(old), str(new))]
    assert exists(old) != after_move and exists(new) == after_move
    monkeypatch.undo()

    restarted = StorageTemplateActor(pool, media, zone=UTC)
    async with pool.connection() as conn:
        assert await restarted.move_asset(conn, nodes, uuid.UUID(asset_id))
    assert original(sql, asset_id) == new
    assert files_under(media / "library") == [f"{owner}/2024/2024-01-15/IMG_0003.jpg"]  # no +1
    assert not exists(old) and read(new) == b"photo bytes"
    assert sql("SELECT count(*) FROM move_history") == [(0,)]


async def test_a_move_cancelled_before_it_is_recorded_is_finished_by_the_next_run(
    pool: Pool, media: Path, owner: str, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(sql)
    asset_id, old = add_asset(sql, media, owner, "IMG_0004.jpg", sidecar=True)
    new = media / "library" / owner / "2024" / "2024-01-15" / "IMG_0004.jpg"
    nodes = parse_template(DEFAULT)
    real_finish = q.finish_move
    with trio.CancelScope() as scope:

        async def cancelled_finish(conn: Any, move_id: Any, path_type: str, entity_id: Any, path: str) -> None:
            scope.cancel()  # the shutdown arrives between the rename and the statement recording it
            await trio.lowlevel.checkpoint()
            await real_finish(conn, move_id, path_type, entity_id, path)

        monkeypatch.setattr(q, "finish_move", cancelled_finish)
        async with pool.connection() as conn:
            await StorageTemplateActor(pool, media, zone=UTC).move_asset(conn, nodes, uuid.UUID(asset_id))
    assert scope.cancelled_caught
    assert original(sql, asset_id) == old  # the database still says old
    assert exists(new) and not exists(old)
    monkeypatch.undo()

    async with pool.connection() as conn:
        assert await StorageTemplateActor(pool, media, zone=UTC).move_asset(conn, nodes, uuid.UUID(asset_id))
    assert original(sql, asset_id) == new
    assert files_under(media / "library") == [f"{owner}/2024/2024-01-15/IMG_0004.jpg", f"{owner}/2024/2024-01-15/IMG_0004.jpg.xmp"]
    assert sql("SELECT path FROM asset_file WHERE type = 'sidecar'") == [(f"{new}.xmp",)]
    assert sql("SELECT count(*) FROM move_history") == [(0,)]


DIE_MIDWAY = """
import os, signal, sys, uuid
from datetime import UTC
from pathlib import Path

import trio

from immich_trio.actors import file_moves
from immich_trio.actors import storage_template as actor_module
from immich_trio.sql.pool import open_pool
from immich_trio.storage.template import parse_template

db_url, media, asset_id, when, template = sys.argv[1:]
real = file_moves.relocate


def relocate(src, dst, **checks):
    if when == "after":
        real(src, dst, **checks)
    os.kill(os.getpid(), signal.SIGKILL)


file_moves.relocate = relocate


async def main():
    async with open_pool(db_url) as pool, pool.connection() as conn:
        actor = actor_module.StorageTemplateActor(pool, Path(media), zone=UTC)
        await actor.move_asset(conn, parse_template(template), uuid.UUID(asset_id))


trio.run(main)
"""


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_process_killed_midway_leaves_one_file_that_the_next_run_records(
    pool: Pool, db_url: str, media: Path, owner: str, sql: Sql, when: str
) -> None:
    enable(sql)
    asset_id, old = add_asset(sql, media, owner, "IMG_0005.jpg")
    new = media / "library" / owner / "2024" / "2024-01-15" / "IMG_0005.jpg"
    with trio.fail_after(LIMIT):
        done = await trio.run_process(
            [sys.executable, "-c", DIE_MIDWAY, db_url, str(media), asset_id, when, DEFAULT], check=False
        )
    assert done.returncode == -signal.SIGKILL
    assert exists(new) == (when == "after") and exists(old) == (when == "before")
    assert original(sql, asset_id) == old  # the dead process recorded nothing past the row

    async with pool.connection() as conn:
        assert await StorageTemplateActor(pool, media, zone=UTC).move_asset(conn, parse_template(DEFAULT), uuid.UUID(asset_id))
    assert original(sql, asset_id) == new
    assert files_under(media / "library") == [f"{owner}/2024/2024-01-15/IMG_0005.jpg"]
    assert files_under(media / "upload") == []
    assert sql("SELECT count(*) FROM move_history") == [(0,)]


async def test_trashed_and_hidden_assets_are_not_found_by_the_single_job(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql
) -> None:
    enable(sql)
    trashed, in_trash = add_asset(sql, media, owner, "t.jpg")
    sql('UPDATE asset SET "deletedAt" = now() WHERE id = %s', (trashed,))
    hidden, motion = add_asset(sql, media, owner, "m.mov", kind="VIDEO", visibility="hidden")
    actor = await start(nursery, pool, media)
    for asset_id in (trashed, hidden):
        assert (await single(actor, asset_id)).status == "failed"
    assert original(sql, trashed) == in_trash and original(sql, hidden) == motion
    assert not exists(media / "library")
