"""The upload crash rule: staging files with a committed row roll forward, the others roll back."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio

from immich_trio import crypto
from immich_trio.actors.uploader import (
    IngestUpload,
    StagedUpload,
    Uploader,
    recover_staged_uploads,
)
from immich_trio.reactor import AskFailed
from immich_trio.sql.pool import Pool, open_pool
from immich_trio.storage import files
from immich_trio.storage.recovery import RecoveryReport, Targets, recover_uploads

LIMIT = 20
MTIME = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)

def content(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def mtime(path: str | Path) -> float:
    return Path(path).stat().st_mtime


def exists(path: str | Path) -> bool:
    return Path(path).exists()



@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "upload").mkdir()
    return tmp_path


@pytest.fixture
def user_id(db_url: str) -> uuid.UUID:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
            ("crash@example.com", crypto.hash_password("x"), "Crash"),
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def rows(db_url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


async def stage(media: Path, user_id: uuid.UUID, data: bytes, *, sidecar: bytes | None = None) -> StagedUpload:
    """What the HTTP layer hands the uploader: finished, still-open staging files."""
    asset_id = uuid.uuid4()
    staged = await files.StagedFile.create(files.staging_path(media, asset_id))
    await staged.write(data)
    await staged.finish(MTIME)
    side = None
    if sidecar is not None:
        side = await files.StagedFile.create(files.staging_path(media, asset_id, sidecar=True))
        await side.write(sidecar)
        await side.finish(MTIME)
    return StagedUpload(
        asset_id=asset_id,
        owner_id=user_id,
        file=staged,
        sidecar=side,
        extension=".jpg",
        original_file_name="crash.jpg",
        asset_type="IMAGE",
        file_created_at=MTIME,
        file_modified_at=MTIME,
    )


async def ingest(actor: Uploader, upload: StagedUpload) -> Any:
    with trio.fail_after(LIMIT):
        return await actor.address.ask(lambda reply_to: IngestUpload(upload=upload, reply_to=reply_to))


async def test_crash_between_commit_and_rename_rolls_forward(
    pool: Pool, media: Path, user_id: uuid.UUID, db_url: str, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = Uploader(pool, media)
    await nursery.start(actor.run)
    data = os.urandom(50_000)
    upload = await stage(media, user_id, data, sidecar=b"<xmp/>")

    def crash(src: Path, dst: Path) -> None:
        raise OSError("simulated crash after commit")

    # The process "dies" right after the commit: the rename never happens.
    monkeypatch.setattr(files, "move_into_place", crash)
    with pytest.raises(AskFailed):
        await ingest(actor, upload)
    monkeypatch.undo()

    [(original,)] = rows(db_url, 'SELECT "originalPath" FROM asset WHERE id = %s', (upload.asset_id,))
    [(sidecar,)] = rows(db_url, 'SELECT path FROM asset_file WHERE "assetId" = %s', (upload.asset_id,))
    assert not exists(original) and not exists(sidecar)
    assert upload.file.path.exists() and upload.sidecar is not None and upload.sidecar.path.exists()

    with trio.fail_after(LIMIT):
        await recover_staged_uploads(pool, media)
    assert content(original) == data
    assert mtime(original) == MTIME.timestamp()
    assert content(sidecar) == b"<xmp/>"
    assert list(files.upload_tmp_dir(media).iterdir()) == []
    assert hashlib.sha1(content(original)).digest() == bytes(
        rows(db_url, "SELECT checksum FROM asset")[0][0]
    )


async def test_crash_before_commit_rolls_back(
    pool: Pool, media: Path, user_id: uuid.UUID, db_url: str
) -> None:
    # Staged but never committed (the process died while streaming or before ingest).
    upload = await stage(media, user_id, b"half an upload", sidecar=b"<xmp/>")
    upload.close()
    stray = files.upload_tmp_dir(media) / "not-ours.txt"
    stray.write_bytes(b"left alone")
    with trio.fail_after(LIMIT):
        await recover_staged_uploads(pool, media)
    assert sorted(files.upload_tmp_dir(media).iterdir()) == [stray]
    assert rows(db_url, "SELECT count(*) FROM asset") == [(0,)]
    assert [p for p in (media / "upload").rglob("*") if p.is_file()] == [stray]


async def test_rule_on_a_mix_and_live_writers_are_left_alone(media: Path) -> None:
    committed, orphan, writing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for asset_id in (committed, orphan):
        files.make_dirs(files.upload_tmp_dir(media))
        files.staging_path(media, asset_id).write_bytes(asset_id.bytes)
    live = await files.StagedFile.create(files.staging_path(media, writing))  # locked by its writer
    target = media / "upload" / "u" / "ab" / "cd" / "final.jpg"
    asked: list[list[uuid.UUID]] = []

    async def lookup(ids: Any) -> dict[uuid.UUID, Targets]:
        asked.append(list(ids))
        return {committed: Targets(original=target)}

    report = await recover_uploads(media, lookup)
    assert report == RecoveryReport(
        rolled_forward=(target,),
        rolled_back=(files.staging_path(media, orphan),),
        in_use=(files.staging_path(media, writing),),
    )
    assert sorted(asked[0]) == sorted([committed, orphan, writing])
    assert content(target) == committed.bytes
    assert sorted(files.upload_tmp_dir(media).iterdir()) == [live.path]
    live.discard()
    assert await recover_uploads(media, lookup) == RecoveryReport()


async def test_asker_giving_up_before_the_actor_takes_the_upload(
    pool: Pool, media: Path, user_id: uuid.UUID, db_url: str
) -> None:
    """A withdrawn upload is deleted by the asker and skipped by the actor."""
    actor = Uploader(pool, media)
    upload = await stage(media, user_id, b"withdrawn")
    # The actor is not running: the message waits in the inbox while the asker times out.
    with trio.move_on_after(0.1):
        await actor.address.ask(lambda reply_to: IngestUpload(upload=upload, reply_to=reply_to))
    assert upload.claim.withdraw()
    upload.discard()
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        actor.request_stop()
    assert actor.statistics().handled == 1
    assert rows(db_url, "SELECT count(*) FROM asset") == [(0,)]
    assert list(files.upload_tmp_dir(media).iterdir()) == []
