"""The nightly row cleanups (sessions, audit tables, people, quota usage) on a real database:
rows before and after; people's thumbnails go through the whole server's job table."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from media_harness import Server, wait_for
from psycopg.types.json import Jsonb

from immich_trio.actors.cleanup import CleanupActor
from immich_trio.jobs.names import JobName
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
NOW = datetime(2024, 6, 1, 3, 0, tzinfo=UTC)


def user(sql: Sql, email: str) -> str:
    [(user_id,)] = sql('INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                       (email, "x", email))  # fmt: skip
    return str(user_id)


def asset(sql: Sql, owner: str, size: int | None, *, library: str | None = None,
          trashed: bool = False) -> str:  # fmt: skip
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "libraryId",'
        ' status, "deletedAt") VALUES (%s, %s, \'IMAGE\', %s, \'a.jpg\', %s, \'sha1\', %s, %s, %s, %s, %s, %s)',
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], NOW, NOW, NOW, library,
         "trashed" if trashed else "active", NOW if trashed else None),
    )  # fmt: skip
    if size is not None:
        sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)', (asset_id, size))
    return asset_id


async def run(pool: Pool, name: JobName) -> str:
    """Run one job as the dispatcher would: ask the actor, apply its result in a transaction."""
    actor = CleanupActor(pool, now=lambda: NOW)
    job = Job(id=1, queue="backgroundTask", name=name.value, data={}, attempt=1, max_attempts=3,
              created_at=NOW)  # fmt: skip
    result = await actor.run_job(job)
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)
    return result.status


async def test_session_cleanup_deletes_expired_and_idle_sessions_only(pool: Pool, sql: Sql) -> None:
    owner = user(sql, "owner@example.com")
    sessions = {
        "expired": (NOW - timedelta(days=1), NOW - timedelta(minutes=1)),
        "idle": (NOW - timedelta(days=90, seconds=1), None),
        "live": (NOW - timedelta(days=89), None),
        "expires-later": (NOW - timedelta(days=1), NOW + timedelta(days=1)),
    }
    for device, (updated, expires) in sessions.items():
        sql('INSERT INTO session (token, "userId", "deviceOS", "updatedAt", "expiresAt")'
            " VALUES (%s, %s, %s, %s, %s)", (uuid.uuid4().bytes, owner, device, updated, expires))  # fmt: skip
    assert await run(pool, JobName.SESSION_CLEANUP) == "success"
    left = sorted(device for (device,) in sql('SELECT "deviceOS" FROM session'))
    assert left == ["expires-later", "live"]


async def test_audit_table_cleanup_keeps_the_last_31_days(pool: Pool, sql: Sql) -> None:
    owner = user(sql, "owner@example.com")
    for when in (NOW - timedelta(days=31, seconds=1), NOW - timedelta(days=30)):
        sql('INSERT INTO asset_audit ("assetId", "ownerId", "deletedAt") VALUES (%s, %s, %s)',
            (uuid.uuid4(), owner, when))  # fmt: skip
        sql('INSERT INTO user_audit ("userId", "deletedAt") VALUES (%s, %s)', (uuid.uuid4(), when))
    assert await run(pool, JobName.AUDIT_TABLE_CLEANUP) == "success"
    recent = NOW - timedelta(days=30)
    assert sql('SELECT "deletedAt" FROM asset_audit') == [(recent,)]
    assert sql('SELECT "deletedAt" FROM user_audit') == [(recent,)]


async def test_user_sync_usage_recounts_uploads_from_exif_sizes(pool: Pool, sql: Sql) -> None:
    alex, bo = user(sql, "alex@example.com"), user(sql, "bo@example.com")
    [(library,)] = sql('INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns")'
                       " VALUES ('lib', %s, '{}', '{}') RETURNING id", (alex,))  # fmt: skip
    asset(sql, alex, 1000)
    asset(sql, alex, 234, trashed=True)  # still on disk: counted, as Immich counts it
    asset(sql, alex, None)  # no exif yet
    asset(sql, alex, 5_000_000, library=str(library))  # external library: not counted
    sql('UPDATE "user" SET "quotaUsageInBytes" = 99')
    assert await run(pool, JobName.USER_SYNC_USAGE) == "success"
    usage = dict(sql('SELECT id::text, "quotaUsageInBytes" FROM "user"'))
    assert usage == {alex: 1234, bo: 0}


async def test_hls_session_cleanup_succeeds_with_nothing_to_do(pool: Pool) -> None:
    assert await run(pool, JobName.HLS_SESSION_CLEANUP) == "success"


async def test_person_cleanup_removes_people_without_faces_and_their_thumbnails(
    server: Server, owner: str, tmp_path: Path
) -> None:
    photo = asset(server.sql, owner, 10)
    thumbs = {name: tmp_path / f"{name}.jpeg" for name in ("kept", "gone")}
    people = {}
    for name, path in thumbs.items():
        path.write_bytes(b"jpeg")
        [(people[name],)] = server.sql(
            'INSERT INTO person ("ownerId", name, "thumbnailPath") VALUES (%s, %s, %s) RETURNING id::text',
            (owner, name, str(path)),
        )
    server.sql('INSERT INTO asset_face ("assetId", "personId") VALUES (%s, %s)', (photo, people["kept"]))
    server.sql(
        "INSERT INTO immich_trio.job (queue, name, data) VALUES ('backgroundTask', %s, %s)",
        (JobName.PERSON_CLEANUP.value, Jsonb({})),
    )
    server.sql("SELECT pg_notify('immich_trio_jobs', 'backgroundTask')")
    await wait_for(server, "SELECT name, status FROM immich_trio.job", (), [])
    assert await server.asql("SELECT name FROM person") == [("kept",)]
    # the FileDelete job, queued with the deletion, has run: the job table is empty
    assert not thumbs["gone"].exists() and thumbs["kept"].exists()
