"""Duplicate groups: assets sharing ``asset.duplicateId``, found by CLIP embedding distance.

Immich's rules (``DuplicateRepository``): a group's members are its owner's live, unstacked
assets of visibility ``timeline`` or ``archive`` that have an exif row; the neighbours of an
asset are the nearest 64 of the same owner and type among those with an embedding, kept when
within ``maxDistance`` (cosine). Groups are merged by rewriting ``duplicateId``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql.assets.info import EXIF_JSON
from immich_trio.sql.jobs.model import notify

Conn = AsyncConnection[Any]

SEARCH_LIMIT = 64
"""Immich's ``DUPLICATE_SEARCH_LIMIT``: candidates taken from the vector search."""

_MEMBER = """
a.visibility IN ('archive', 'timeline') AND a."deletedAt" IS NULL AND a."stackId" IS NULL
AND EXISTS (SELECT 1 FROM asset_exif e WHERE e."assetId" = a.id)"""

_ASSET_COLUMNS = f"""
a.*, {EXIF_JSON} AS "exifInfo",
(SELECT coalesce(json_agg(json_build_object(
    'id', t.id, 'parentId', t."parentId", 'value', t.value, 'createdAt', t."createdAt",
    'updatedAt', t."updatedAt", 'color', t.color) ORDER BY t."createdAt", t.id), '[]'::json)
 FROM tag t JOIN tag_asset ta ON ta."tagId" = t.id WHERE ta."assetId" = a.id) AS tags"""

# Groups of more than one member, each ordered by local date as Immich aggregates them.
GROUPS_OF_OWNER = f"""
WITH members AS (
    SELECT a.id, a."duplicateId", count(*) OVER (PARTITION BY a."duplicateId") AS size
    FROM asset a
    WHERE a."ownerId" = %(owner)s AND a."duplicateId" IS NOT NULL AND {_MEMBER})
SELECT {_ASSET_COLUMNS}
FROM members m JOIN asset a ON a.id = m.id
WHERE m.size > 1
ORDER BY a."duplicateId", a."localDateTime", a.id
"""
GROUP = f"""
SELECT {_ASSET_COLUMNS} FROM asset a
WHERE a."duplicateId" = %(id)s AND {_MEMBER}
ORDER BY a."localDateTime", a.id
"""
# Immich's cleanupSingletonGroups: a group left with one live, unstacked member dissolves.
CLEAN_SINGLETONS = """
WITH singletons AS (
    SELECT "duplicateId" FROM asset
    WHERE "ownerId" = %(owner)s AND "duplicateId" IS NOT NULL
      AND "deletedAt" IS NULL AND "stackId" IS NULL
    GROUP BY "duplicateId" HAVING count(id) = 1)
UPDATE asset SET "duplicateId" = NULL FROM singletons
WHERE asset."duplicateId" = singletons."duplicateId"
"""
DISMISS = """
UPDATE asset SET "duplicateId" = NULL
WHERE "ownerId" = %(owner)s AND "duplicateId" = ANY(%(ids)s::uuid[])
"""
FOR_DETECTION = """
SELECT a.id, a.type, a."ownerId", a."duplicateId", a."stackId", a.visibility,
       s.embedding::text AS embedding
FROM asset a LEFT JOIN smart_search s ON s."assetId" = a.id
WHERE a.id = %s
"""
NEIGHBOURS = """
WITH candidates AS (
    SELECT a.id AS "assetId", a."duplicateId", s.embedding <=> %(embedding)s::vector AS distance
    FROM asset a JOIN smart_search s ON s."assetId" = a.id
    WHERE a.visibility IN ('archive', 'timeline') AND a."ownerId" = %(owner)s
      AND a."deletedAt" IS NULL AND a.type = %(type)s AND a.id <> %(id)s AND a."stackId" IS NULL
    ORDER BY distance
    LIMIT %(limit)s)
SELECT * FROM candidates WHERE distance <= %(max_distance)s
"""
MERGE = """
UPDATE asset SET "duplicateId" = %(target)s
WHERE "duplicateId" = ANY(%(sources)s::uuid[]) OR id = ANY(%(ids)s::uuid[])
"""
CLEAR = 'UPDATE asset SET "duplicateId" = NULL WHERE id = ANY(%s::uuid[])'
DETECTED_AT = """
INSERT INTO asset_job_status ("assetId", "duplicatesDetectedAt")
SELECT id, %(at)s FROM unnest(%(ids)s::uuid[]) AS id
ON CONFLICT ("assetId") DO UPDATE SET "duplicatesDetectedAt" = EXCLUDED."duplicatesDetectedAt"
"""
# AssetDetectDuplicatesQueueAll: visible live assets with a preview and an embedding, not
# yet examined (all of them with force).
_INSERT_ALL = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a."deletedAt" IS NULL AND a.visibility <> 'hidden'
  AND EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id AND f.type = 'preview')
  AND EXISTS (SELECT 1 FROM smart_search s WHERE s."assetId" = a.id)
  AND (%(force)s OR NOT EXISTS (SELECT 1 FROM asset_job_status j
                                WHERE j."assetId" = a.id AND j."duplicatesDetectedAt" IS NOT NULL))
ORDER BY a."createdAt", a.id
"""
ALBUMS_OF_ASSETS = """
SELECT DISTINCT aa."albumId" FROM album_asset aa
JOIN album al ON al.id = aa."albumId" AND al."deletedAt" IS NULL
WHERE aa."assetId" = ANY(%(ids)s::uuid[])
  AND EXISTS (SELECT 1 FROM album_user au WHERE au."albumId" = al.id AND au."userId" = %(user)s)
"""


async def clean_singletons(conn: Conn, owner_id: UUID) -> None:
    await conn.execute(CLEAN_SINGLETONS, {"owner": owner_id})


async def groups_of_owner(conn: Conn, owner_id: UUID) -> list[tuple[UUID, list[dict[str, Any]]]]:
    """The owner's groups of two or more, each with its assets (row, ``exifInfo``, ``tags``)."""
    cur = await conn.execute(GROUPS_OF_OWNER, {"owner": owner_id})
    groups: dict[UUID, list[dict[str, Any]]] = {}
    for row in await cur.fetchall():
        groups.setdefault(row["duplicateId"], []).append(row)
    return list(groups.items())


async def group(conn: Conn, duplicate_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(GROUP, {"id": duplicate_id})
    return await cur.fetchall()


async def dismiss(conn: Conn, owner_id: UUID, duplicate_ids: Sequence[UUID]) -> None:
    """Unlink the owner's assets of these groups, deleting nothing."""
    if duplicate_ids:
        await conn.execute(DISMISS, {"owner": owner_id, "ids": list(duplicate_ids)})


async def clear(conn: Conn, asset_ids: Sequence[UUID]) -> None:
    if asset_ids:
        await conn.execute(CLEAR, (list(asset_ids),))


async def albums_of_assets(conn: Conn, user_id: UUID, asset_ids: Sequence[UUID]) -> list[UUID]:
    """The live albums the user owns or belongs to that hold any of ``asset_ids``."""
    cur = await conn.execute(ALBUMS_OF_ASSETS, {"user": user_id, "ids": list(asset_ids)})
    return [row["albumId"] for row in await cur.fetchall()]


async def for_detection(conn: Conn, asset_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_DETECTION, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def neighbours(
    conn: Conn, *, asset_id: UUID, owner_id: UUID, asset_type: str, embedding: str, max_distance: float
) -> list[dict[str, Any]]:
    """The asset's duplicates by embedding: ``assetId``, ``duplicateId``, ``distance``."""
    cur = await conn.execute(
        NEIGHBOURS,
        {
            "embedding": embedding,
            "owner": owner_id,
            "type": asset_type,
            "id": asset_id,
            "limit": SEARCH_LIMIT,
            "max_distance": max_distance,
        },
    )
    return await cur.fetchall()


async def merge(conn: Conn, *, target: UUID, asset_ids: Sequence[UUID], sources: Sequence[UUID]) -> None:
    """Move ``asset_ids`` and every member of the ``sources`` groups into group ``target``."""
    await conn.execute(MERGE, {"target": target, "ids": list(asset_ids), "sources": list(sources)})


async def mark_detected(conn: Conn, asset_ids: Sequence[UUID], at: datetime) -> None:
    await conn.execute(DETECTED_AT, {"ids": list(asset_ids), "at": at})


async def enqueue_all(conn: Conn, *, force: bool) -> int:
    """``AssetDetectDuplicatesQueueAll``: one ``AssetDetectDuplicates`` per candidate asset."""
    name = JobName.ASSET_DETECT_DUPLICATES
    queue = QUEUE_OF[name].value
    cur = await conn.execute(_INSERT_ALL, {"queue": queue, "name": name.value, "force": force})
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount
