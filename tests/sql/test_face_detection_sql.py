"""Face detection's queries on a real database: which assets ``AssetDetectFacesQueueAll``
queues (force false, true and the nightly ``None``), the refresh of an asset's faces with
their embeddings, and the forced clean-up of machine-learning faces."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from immich_trio.sql import face_detection as q
from immich_trio.sql.pool import Pool, open_pool

JOBS = 'SELECT name, data, "assetId" FROM immich_trio.job WHERE queue = \'faceDetection\' ORDER BY id'


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


async def _rows(pool: Pool, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall())


async def _asset(
    conn: Any, owner: uuid.UUID, created: str, *, preview: bool = True, status: bool = True,
    visibility: str = "timeline", trashed: bool = False, recognized: bool = False,
) -> uuid.UUID:
    cur = await conn.execute(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", checksum,'
        ' "checksumAlgorithm", "originalFileName", "localDateTime", visibility, "deletedAt", status)'
        " VALUES (%s, 'IMAGE', %s, %s, %s, %s, 'sha1', 'a.jpg', %s, %s, %s, %s) RETURNING id",
        (
            owner, f"/upload/{uuid.uuid4()}.jpg", created, created, os.urandom(20), created, visibility,
            created if trashed else None, "trashed" if trashed else "active",
        ),
    )
    asset_id: uuid.UUID = (await cur.fetchone())["id"]
    if preview:
        await conn.execute(
            "INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'preview', %s)", (asset_id, "/p.jpeg")
        )
    if status:
        await conn.execute(
            'INSERT INTO asset_job_status ("assetId", "facesRecognizedAt") VALUES (%s, %s)',
            (asset_id, created if recognized else None),
        )
    return asset_id


async def test_queue_all_takes_visible_assets_with_a_preview_newest_first(pool: Pool) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute("""INSERT INTO "user" (email, name, password) VALUES ('a@b.c', 'A', 'x') RETURNING id""")
        owner = (await cur.fetchone())["id"]  # type: ignore[index]
        old = await _asset(conn, owner, "2020-01-01T00:00:00Z")
        new = await _asset(conn, owner, "2024-01-01T00:00:00Z")
        done = await _asset(conn, owner, "2022-01-01T00:00:00Z", recognized=True)
        await _asset(conn, owner, "2021-01-01T00:00:00Z", preview=False)
        await _asset(conn, owner, "2021-02-01T00:00:00Z", visibility="hidden")
        await _asset(conn, owner, "2021-03-01T00:00:00Z", trashed=True)
        await _asset(conn, owner, "2021-04-01T00:00:00Z", status=False)
        archived = await _asset(conn, owner, "2019-01-01T00:00:00Z", visibility="archive")
        assert await q.enqueue_detection(conn, force=False) == 3
    expected = [("AssetDetectFaces", {"id": str(a)}, a) for a in (new, old, archived)]
    assert [(r["name"], r["data"], r["assetId"]) for r in await _rows(pool, JOBS)] == expected

    for force in (True, None):  # forced and nightly runs take the ones already done too
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM immich_trio.job")
            assert await q.enqueue_detection(conn, force=force) == 4
        found = [(r["data"], r["assetId"]) for r in await _rows(pool, JOBS)]
        assert found == [({"id": str(a)}, a) for a in (new, done, old, archived)]


async def test_refresh_adds_removes_and_embeds_in_one_go(pool: Pool) -> None:
    vector = "[" + ",".join(["0"] * 511 + ["1"]) + "]"
    async with pool.connection() as conn:
        cur = await conn.execute("""INSERT INTO "user" (email, name, password) VALUES ('a@b.c', 'A', 'x') RETURNING id""")
        owner = (await cur.fetchone())["id"]  # type: ignore[index]
        asset = await _asset(conn, owner, "2024-01-01T00:00:00Z")
        cur = await conn.execute(
            'INSERT INTO asset_face ("assetId", "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1",'
            ' "boundingBoxX2", "boundingBoxY2", "sourceType") VALUES'
            " (%s, 320, 240, 1, 1, 9, 9, 'machine-learning'), (%s, 320, 240, 50, 50, 90, 90, 'manual')"
            " RETURNING id",
            (asset, asset),
        )
        gone, manual = [row["id"] for row in await cur.fetchall()]
        await conn.execute('INSERT INTO face_search ("faceId", embedding) VALUES (%s, %s)', (gone, vector))
        assert await q.dimensions(conn) == 512
        new = uuid.uuid4()
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        async with conn.transaction():
            await q.refresh_faces(
                conn, asset, image_width=640, image_height=480, added=[(new, (10, 20, 30, 40))],
                removed=[gone], embeddings=[(new, vector), (manual, vector)],
            )
            await q.mark_recognized(conn, asset, when)
    faces = await _rows(
        pool,
        'SELECT id, "sourceType"::text AS kind, "imageWidth", "boundingBoxX1", "boundingBoxY2" FROM asset_face'
        ' WHERE "assetId" = %s ORDER BY "sourceType"',
        (asset,),
    )
    assert faces == [
        {"id": new, "kind": "machine-learning", "imageWidth": 640, "boundingBoxX1": 10, "boundingBoxY2": 40},
        {"id": manual, "kind": "manual", "imageWidth": 320, "boundingBoxX1": 50, "boundingBoxY2": 90},
    ]
    embedded = await _rows(pool, 'SELECT "faceId", embedding::text AS e FROM face_search ORDER BY "faceId"')
    assert sorted((r["faceId"], r["e"]) for r in embedded) == sorted([(new, vector), (manual, vector)])
    [status] = await _rows(pool, 'SELECT "facesRecognizedAt" FROM asset_job_status WHERE "assetId" = %s', (asset,))
    assert status["facesRecognizedAt"] == when

    async with pool.connection() as conn:
        assert await q.delete_machine_learning_faces(conn) == 1
    assert [r["id"] for r in await _rows(pool, "SELECT id FROM asset_face")] == [manual]
