"""Queries behind the Server tag: usage statistics, version history."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

# As Immich's getUserStats: hidden assets (live-photo motion parts) are not counted as
# photos/videos, and usage covers uploads only (external-library files are not the server's).
USAGE_BY_USER = """
SELECT u.id AS "userId", u.name AS "userName", u."quotaSizeInBytes",
       count(a.id) FILTER (WHERE a.type = 'IMAGE' AND a.visibility <> 'hidden') AS photos,
       count(a.id) FILTER (WHERE a.type = 'VIDEO' AND a.visibility <> 'hidden') AS videos,
       coalesce(sum(e."fileSizeInByte") FILTER (WHERE a."libraryId" IS NULL), 0)::bigint AS usage,
       coalesce(sum(e."fileSizeInByte")
                FILTER (WHERE a."libraryId" IS NULL AND a.type = 'IMAGE'), 0)::bigint AS "usagePhotos",
       coalesce(sum(e."fileSizeInByte")
                FILTER (WHERE a."libraryId" IS NULL AND a.type = 'VIDEO'), 0)::bigint AS "usageVideos"
FROM "user" u
LEFT JOIN asset a ON a."ownerId" = u.id AND a."deletedAt" IS NULL
LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE u."deletedAt" IS NULL
GROUP BY u.id
ORDER BY u."createdAt" ASC
"""

VERSION_HISTORY = 'SELECT id, "createdAt", version FROM version_history ORDER BY "createdAt" DESC'
LAST_VERSION = 'SELECT version FROM version_history ORDER BY "createdAt" DESC LIMIT 1'
RECORD_VERSION = "INSERT INTO version_history (version) VALUES (%s)"


async def usage_by_user(conn: AsyncConnection[Any]) -> list[dict[str, Any]]:
    cur = await conn.execute(USAGE_BY_USER)
    return await cur.fetchall()


async def version_history(conn: AsyncConnection[Any]) -> list[dict[str, Any]]:
    cur = await conn.execute(VERSION_HISTORY)
    return await cur.fetchall()


async def record_version(conn: AsyncConnection[Any], version: str) -> None:
    """Add a version_history row when the running version differs from the last one."""
    cur = await conn.execute(LAST_VERSION)
    row = await cur.fetchone()
    if row is None or row["version"] != version:
        await conn.execute(RECORD_VERSION, (version,))


async def postgres_version(conn: AsyncConnection[Any]) -> str:
    """The server's version number as ``SHOW server_version`` gives it, without the build."""
    cur = await conn.execute("SHOW server_version")
    row = await cur.fetchone()
    value = str(next(iter(row.values())) if isinstance(row, dict) else row[0]) if row else ""
    return value.split()[0] if value else "unknown"
