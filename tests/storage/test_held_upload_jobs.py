"""An upload's first job is held until its file is in place, so no job sees a missing original.

The uploader enqueues ``AssetExtractMetadata`` held, renames the file, then releases it; a
crash in between is mended by the startup recovery, which releases the held jobs of every
upload whose file is in place (and of no other).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from immich_trio.actors.uploader import recover_staged_uploads
from immich_trio.sql import jobs
from immich_trio.sql.pool import open_pool


def _asset(url: str, owner: str, path: Path) -> str:
    asset_id = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            'INSERT INTO asset (id, "ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
            ' checksum, "checksumAlgorithm", "originalFileName", "localDateTime")'
            " VALUES (%s, %s, 'IMAGE', %s, now(), now(), %s, 'sha1', %s, now())",
            (asset_id, owner, str(path), uuid.uuid4().bytes[:20], path.name),
        )
    return asset_id


async def _claimable(pool: object, now: datetime) -> list[str]:
    async with pool.connection() as conn:  # type: ignore[attr-defined]
        claimed = await jobs.claim(
            conn, queue="metadataExtraction", limit=10, owner="test", now=now,
            lease_until=now + timedelta(seconds=60),
        )
    return sorted(str(job.data["id"]) for job in claimed)


async def test_held_job_runs_only_after_release(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = str(conn.execute("""INSERT INTO "user" (email) VALUES ('o@example.com') RETURNING id""").fetchone()[0])  # type: ignore[index]
    asset = _asset(db_url, owner, tmp_path / "a.jpg")
    now = datetime.now(UTC)
    async with open_pool(db_url) as pool:
        async with pool.connection() as conn, conn.transaction():
            await jobs.enqueue(
                conn, "metadataExtraction", "AssetExtractMetadata", {"id": asset, "source": "upload"},
                run_after=jobs.HELD_UNTIL,
            )
        assert await _claimable(pool, now + timedelta(days=365)) == []
        async with pool.connection() as conn:
            assert await jobs.held_assets(conn) == {asset: str(tmp_path / "a.jpg")}
            assert await jobs.release_held(conn, [asset]) == 1
        assert await _claimable(pool, now) == [asset]


async def test_recovery_releases_the_jobs_of_placed_uploads_only(db_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "upload").mkdir(parents=True)
    with psycopg.connect(db_url, autocommit=True) as conn:
        owner = str(conn.execute("""INSERT INTO "user" (email) VALUES ('o@example.com') RETURNING id""").fetchone()[0])  # type: ignore[index]
    placed_path = media / "upload" / "placed.jpg"
    placed_path.write_bytes(b"jpeg")
    placed = _asset(db_url, owner, placed_path)  # crashed after the rename, before the release
    missing = _asset(db_url, owner, media / "upload" / "missing.jpg")  # its file is not there
    async with open_pool(db_url) as pool:
        async with pool.connection() as conn, conn.transaction():
            for asset in (placed, missing):
                await jobs.enqueue(
                    conn, "metadataExtraction", "AssetExtractMetadata", {"id": asset, "source": "upload"},
                    run_after=jobs.HELD_UNTIL,
                )
        await recover_staged_uploads(pool, media)
        assert await _claimable(pool, datetime.now(UTC)) == [placed]
        async with pool.connection() as conn:
            assert await jobs.held_assets(conn) == {missing: str(media / "upload" / "missing.jpg")}
