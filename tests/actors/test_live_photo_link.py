"""The live-photo link rule on the database: halves extracted at the same moment, other
owners, the other type only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import trio

from immich_trio.actors.metadata.live_photos import link_live_photo
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
LIMIT = 20


def insert_asset(sql: Sql, owner: str, kind: str) -> str:
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, %s, %s, %s, %s, 'sha1', now(), now(), now())",
        (asset_id, owner, kind, f"/m/{asset_id}", f"{asset_id}.x", uuid.uuid4().bytes + b"1234"),
    )
    return asset_id


async def extract(
    pool: Pool, asset_id: str, cid: str, *, linked: trio.Event | None = None, hold: trio.Event | None = None
) -> None:
    """What the metadata job's transaction does: the exif row, then the link."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute('INSERT INTO asset_exif ("assetId", "livePhotoCID") VALUES (%s, %s)', (asset_id, cid))
        await link_live_photo(conn, asset_id=asset_id, cid=cid)
        if linked is not None:
            linked.set()
        if hold is not None:
            await hold.wait()


def lock_waiters(sql: Sql) -> int:
    [(count,)] = sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return int(count)


async def test_halves_extracted_at_the_same_time_are_linked(pool: Pool, sql: Sql, owner: str) -> None:
    photo, video = insert_asset(sql, owner, "IMAGE"), insert_asset(sql, owner, "VIDEO")
    linked, release = trio.Event(), trio.Event()
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: extract(pool, photo, "CID-X", linked=linked, hold=release))
            # The photo's transaction found no video and is still open...
            await linked.wait()
            nursery.start_soon(extract, pool, video, "CID-X")
            # ...while the video's waits for it on the CID (2 s at most); then the photo's commits.
            for _ in range(200):
                if lock_waiters(sql) == 1:
                    break
                await trio.sleep(0.01)
            release.set()
    assert sql('SELECT "livePhotoVideoId"::text FROM asset WHERE id = %s', (photo,)) == [(video,)]
    assert sql("SELECT visibility::text FROM asset WHERE id = %s", (video,)) == [("hidden",)]


async def test_only_the_same_owner_and_the_other_type_match(pool: Pool, sql: Sql, owner: str) -> None:
    [(other,)] = sql(
        'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id', ("o@example.com", "x", "O")
    )
    strangers_video = insert_asset(sql, str(other), "VIDEO")
    second_photo = insert_asset(sql, owner, "IMAGE")
    photo = insert_asset(sql, owner, "IMAGE")
    with trio.fail_after(LIMIT):
        await extract(pool, strangers_video, "CID-Y")
        await extract(pool, second_photo, "CID-Y")
        await extract(pool, photo, "CID-Y")
    linked = sql('SELECT "livePhotoVideoId" FROM asset WHERE id = ANY(%s::uuid[])', ([photo, second_photo],))
    assert linked == [(None,), (None,)]
    assert sql("SELECT visibility::text FROM asset WHERE id = %s", (strangers_video,)) == [("timeline",)]
