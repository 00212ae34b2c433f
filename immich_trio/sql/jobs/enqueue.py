"""Enqueueing, inside the caller's transaction (dispatchers wake at commit), and jobs held
back until a later step releases them (an upload's first job until its file is in place).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from immich_trio.jobs.names import QUEUE_OF, JobName, QueueName
from immich_trio.sql.jobs.model import (
    DEFAULT_MAX_ATTEMPTS,
    Conn,
    asset_id_of,
    notify,
)

# -- enqueue ---------------------------------------------------------------------------

INSERT_JOB = """
INSERT INTO immich_trio.job (queue, name, data, "assetId", dedupe_key, run_after, max_attempts)
VALUES (%(queue)s, %(name)s, %(data)s, %(asset_id)s, %(dedupe_key)s, %(run_after)s, %(max_attempts)s)
ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('waiting', 'active')
DO NOTHING
RETURNING id
"""


async def enqueue(
    conn: Conn,
    queue: str,
    name: str,
    data: Mapping[str, Any],
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job in the caller's transaction; return its id, or None if deduplicated.

    ``dedupe_key`` makes the job a no-op while another job of the queue with that key is
    waiting or running (BullMQ's ``jobId``). Dispatchers are notified at commit, so a
    rolled-back transaction leaves neither a job nor a wake-up.
    """
    expected = QUEUE_OF.get(JobName(name))
    if expected is not None and expected.value != queue:
        raise ValueError(f"job {name} runs on queue {expected.value}, not {queue}")
    cur = await conn.execute(
        INSERT_JOB,
        {
            "queue": queue,
            "name": name,
            "data": Jsonb(dict(data)),
            "asset_id": asset_id_of(name, data),
            "dedupe_key": dedupe_key,
            "run_after": run_after,
            "max_attempts": max_attempts,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await notify(conn, queue)
    return int(row["id"])


async def enqueue_job(
    conn: Conn, name: JobName, data: Mapping[str, Any], **kwargs: Any
) -> int | None:
    """``enqueue`` on the queue that runs ``name``."""
    return await enqueue(conn, QUEUE_OF[name].value, name.value, data, **kwargs)


_INSERT_PER_ASSET = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, %(data)s::jsonb || jsonb_build_object('id', x.id::text), x.id
FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS x(id, n)
ORDER BY x.n
"""


async def enqueue_for_assets(
    conn: Conn, name: JobName, asset_ids: Iterable[UUID | str], data: Mapping[str, Any] | None = None
) -> int:
    """One ``name`` job per asset (``{id, **data}``) in one statement; the number queued."""
    ids = [str(i) for i in asset_ids]
    if not ids:
        return 0
    queue = QUEUE_OF[name].value
    cur = await conn.execute(
        _INSERT_PER_ASSET,
        {"queue": queue, "name": name.value, "data": Jsonb(dict(data or {})), "ids": ids},
    )
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount


# Set-based expansions of QueueAll jobs: one INSERT … SELECT, however large the library.
_INSERT_ASSET_JOBS = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a."deletedAt" IS NULL AND ({condition})
ORDER BY a."createdAt", a.id
"""
_MISSING_THUMBNAILS = """
    %(force)s OR (a.visibility <> 'hidden' AND (
        a.thumbhash IS NULL
        OR NOT EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id
                       AND f.type = 'preview' AND NOT f."isEdited")
        OR NOT EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id
                       AND f.type = 'thumbnail' AND NOT f."isEdited")))
"""
_MISSING_METADATA = """
    %(force)s OR NOT EXISTS (SELECT 1 FROM asset_job_status s
                             WHERE s."assetId" = a.id AND s."metadataExtractedAt" IS NOT NULL)
"""
_INSERT_PERSON_THUMBNAILS = """
INSERT INTO immich_trio.job (queue, name, data)
SELECT %(queue)s, %(name)s, jsonb_build_object('id', p.id::text)
FROM person p
WHERE p."faceAssetId" IS NOT NULL AND (%(force)s OR p."thumbnailPath" = '')
ORDER BY p."createdAt", p.id
"""


async def enqueue_selected(conn: Conn, query: str, name: JobName, params: Mapping[str, Any]) -> int:
    """Run an ``INSERT … SELECT`` of ``name`` jobs (``%(queue)s`` and ``%(name)s`` are filled in
    beside ``params``) and wake the queue's dispatchers at commit; the number queued."""
    queue = QUEUE_OF[name].value
    cur = await conn.execute(query, {**params, "queue": queue, "name": name.value})
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount


async def _insert_asset_jobs(conn: Conn, name: JobName, condition: str, force: bool) -> int:
    return await enqueue_selected(conn, _INSERT_ASSET_JOBS.format(condition=condition), name, {"force": force})


async def enqueue_missing_thumbnails(conn: Conn, *, force: bool) -> int:
    """AssetGenerateThumbnails for assets without preview, thumbnail or thumbhash (all if
    ``force``), and PersonGenerateThumbnail for people without a thumbnail."""
    count = await _insert_asset_jobs(
        conn, JobName.ASSET_GENERATE_THUMBNAILS, _MISSING_THUMBNAILS, force
    )
    cur = await conn.execute(
        _INSERT_PERSON_THUMBNAILS,
        {
            "queue": QueueName.THUMBNAIL_GENERATION.value,
            "name": JobName.PERSON_GENERATE_THUMBNAIL.value,
            "force": force,
        },
    )
    if cur.rowcount:
        await notify(conn, QueueName.THUMBNAIL_GENERATION.value)
    return count + cur.rowcount


async def enqueue_missing_metadata(conn: Conn, *, force: bool) -> int:
    """AssetExtractMetadata for assets never extracted (all if ``force``)."""
    return await _insert_asset_jobs(conn, JobName.ASSET_EXTRACT_METADATA, _MISSING_METADATA, force)


# A job that must not run yet, until a later step releases it (e.g. an upload's first job
# until its file is in place). Far in the future rather than 'infinity': Python has no such date.
HELD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)

RELEASE_HELD = """
UPDATE immich_trio.job SET run_after = NULL, updated_at = now()
WHERE "assetId" = ANY(%(assets)s) AND status = 'waiting' AND run_after = %(held)s
RETURNING queue
"""
HELD_ASSETS = """
SELECT DISTINCT j."assetId", a."originalPath"
FROM immich_trio.job j JOIN asset a ON a.id = j."assetId"
WHERE j.status = 'waiting' AND j.run_after = %(held)s
"""


async def release_held(conn: Conn, asset_ids: Iterable[UUID | str]) -> int:
    """Let the held jobs of these assets run now (and wake the dispatchers at commit)."""
    cur = await conn.execute(RELEASE_HELD, {"assets": [str(a) for a in asset_ids], "held": HELD_UNTIL})
    queues = {row["queue"] for row in await cur.fetchall()}
    for queue in queues:
        await notify(conn, queue)
    return cur.rowcount


async def held_assets(conn: Conn) -> dict[str, str]:
    """``{assetId: originalPath}`` of assets that have held jobs."""
    cur = await conn.execute(HELD_ASSETS, {"held": HELD_UNTIL})
    return {str(row["assetId"]): str(row["originalPath"]) for row in await cur.fetchall()}
