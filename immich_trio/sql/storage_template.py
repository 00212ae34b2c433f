"""Queries of the storage template migration: what the template reads of an asset, its
first album, the walk over every asset, and the cleanup of its ``move_history`` rows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

# Arbitrary constant naming the migration among the database's advisory locks (Immich's
# DatabaseLock.StorageTemplateMigration): one move at a time across processes.
LOCK_KEY = 0x1A11C4_0420
PAGE = 1000

# Immich's getForStorageTemplateJob: with its exif row, not trashed, hidden only when asked.
FOR_TEMPLATE_JOB = """
SELECT a.id, a."ownerId", a.type, a."isExternal", a.checksum, a."originalPath", a."originalFileName",
       a."fileCreatedAt", a."livePhotoVideoId", a.visibility,
       e."fileSizeInByte", e.make, e.model, e."lensModel",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath",
       u."storageLabel"
FROM asset a
JOIN asset_exif e ON e."assetId" = a.id
JOIN "user" u ON u.id = a."ownerId"
WHERE a.id = %(id)s AND a."deletedAt" IS NULL AND (%(hidden)s OR a.visibility <> 'hidden')
"""

# The full migration walks assets by id, a page at a time (bounded memory), as Immich's
# stream: not deleted, not hidden (a live photo's video moves with its still).
PAGE_OF_ASSETS = """
SELECT id FROM asset
WHERE "deletedAt" IS NULL AND visibility <> 'hidden' AND (%(after)s::uuid IS NULL OR id > %(after)s)
ORDER BY id LIMIT %(limit)s
"""

# The album's dates as Immich's album metadata gives them: days, as midnight UTC.
FIRST_ALBUM = """
SELECT al."albumName" AS name,
       (SELECT min((x."localDateTime" AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC' FROM album_asset y
        JOIN asset x ON x.id = y."assetId" WHERE y."albumId" = al.id AND x."deletedAt" IS NULL) AS start,
       (SELECT max((x."localDateTime" AT TIME ZONE 'UTC')::date)::timestamp AT TIME ZONE 'UTC' FROM album_asset y
        JOIN asset x ON x.id = y."assetId" WHERE y."albumId" = al.id AND x."deletedAt" IS NULL) AS "end"
FROM album al
JOIN album_asset aa ON aa."albumId" = al.id AND aa."assetId" = %(asset)s
WHERE al."deletedAt" IS NULL
  AND EXISTS (SELECT 1 FROM album_user au WHERE au."albumId" = al.id AND au."userId" = %(owner)s)
ORDER BY al."createdAt" DESC
LIMIT 1
"""

# Immich's cleanMoveHistory: rows of assets that are gone.
CLEAN_MOVE_HISTORY = """
DELETE FROM move_history m
WHERE m."pathType" IN ('original', 'sidecar') AND NOT EXISTS (SELECT 1 FROM asset a WHERE a.id = m."entityId")
"""


async def for_template_job(conn: Conn, asset_id: UUID | str, *, hidden: bool = False) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_TEMPLATE_JOB, {"id": asset_id, "hidden": hidden})
    return await cur.fetchone()


async def page_of_assets(conn: Conn, after: UUID | None, limit: int = PAGE) -> list[UUID]:
    cur = await conn.execute(PAGE_OF_ASSETS, {"after": after, "limit": limit})
    return [row["id"] for row in await cur.fetchall()]


async def first_album(conn: Conn, owner_id: UUID | str, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(FIRST_ALBUM, {"owner": owner_id, "asset": asset_id})
    return await cur.fetchone()


async def clean_move_history(conn: Conn) -> None:
    await conn.execute(CLEAN_MOVE_HISTORY)


async def lock(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))


async def unlock(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
