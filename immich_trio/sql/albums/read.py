"""Reading albums as ``AlbumResponseDto`` needs them: members, shared-link flag, asset figures.

An album row carries ``albumUsers`` (JSON: owner, then editors, then viewers; within a role
the caller first, then by name), ``hasSharedLink``, and the figures of its visible assets
(not trashed, visibility timeline or archive): ``assetCount``, ``startDate``/``endDate``
(local dates), ``lastModifiedAssetTimestamp`` and, for the responses Immich builds from the
album's asset list, ``firstLocal``/``lastLocal`` (the local date-times of the newest and the
oldest asset by ``fileCreatedAt``, as PostgreSQL writes them into JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

VISIBLE = """x."deletedAt" IS NULL AND x.visibility IN ('timeline', 'archive')"""

ALBUM_COLUMNS = f"""
SELECT a.id, a."albumName", a.description, a."albumThumbnailAssetId", a."createdAt",
       a."updatedAt", a."isActivityEnabled", a."order",
       (SELECT json_agg(json_build_object(
                  'role', au.role,
                  'user', json_build_object('id', u.id, 'email', u.email, 'name', u.name,
                                            'profileImagePath', u."profileImagePath",
                                            'avatarColor', u."avatarColor",
                                            'profileChangedAt', u."profileChangedAt"))
               ORDER BY au.role, au."userId" = %(me)s DESC, u.name)
        FROM album_user au JOIN "user" u ON u.id = au."userId"
        WHERE au."albumId" = a.id) AS "albumUsers",
       EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id) AS "hasSharedLink",
       m."assetCount", m."startDate", m."endDate", m."lastModifiedAssetTimestamp",
       to_json(m."firstLocal") #>> '{{}}' AS "firstLocal",
       to_json(m."lastLocal") #>> '{{}}' AS "lastLocal"
FROM album a
LEFT JOIN LATERAL (
    SELECT count(*)::int AS "assetCount",
           min((x."localDateTime" AT TIME ZONE 'UTC')::date) AS "startDate",
           max((x."localDateTime" AT TIME ZONE 'UTC')::date) AS "endDate",
           max(x."updatedAt") AS "lastModifiedAssetTimestamp",
           (array_agg(x."localDateTime" ORDER BY x."fileCreatedAt" DESC))[1] AS "firstLocal",
           (array_agg(x."localDateTime" ORDER BY x."fileCreatedAt" ASC))[1] AS "lastLocal"
    FROM album_asset aa JOIN asset x ON x.id = aa."assetId"
    WHERE aa."albumId" = a.id AND {VISIBLE}
) m ON true
"""

BY_IDS = ALBUM_COLUMNS + """
WHERE a.id = ANY(%(ids)s::uuid[]) AND a."deletedAt" IS NULL
ORDER BY a."createdAt" DESC
"""

# Albums the caller is a member of; the filters of GET /albums (Immich's getAll).
MINE = ALBUM_COLUMNS + """
JOIN album_user me ON me."albumId" = a.id AND me."userId" = %(me)s
WHERE a."deletedAt" IS NULL
  AND (%(owned)s::boolean IS NULL OR (me.role = 'owner') = %(owned)s)
  AND (%(shared)s::boolean IS NULL OR (
        EXISTS (SELECT FROM album_user o WHERE o."albumId" = a.id AND o.role <> 'owner')
        OR EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id)) = %(shared)s)
  AND (%(id)s::uuid IS NULL OR a.id = %(id)s)
  AND (%(name)s::text IS NULL OR a."albumName" = %(name)s)
ORDER BY a."createdAt" DESC
"""

WITH_ASSET = ALBUM_COLUMNS + """
WHERE a."deletedAt" IS NULL
  AND EXISTS (SELECT FROM album_user me WHERE me."albumId" = a.id AND me."userId" = %(me)s)
  AND EXISTS (SELECT FROM album_asset aa WHERE aa."albumId" = a.id AND aa."assetId" = %(asset)s)
ORDER BY a."createdAt" DESC
"""

STATISTICS = """
SELECT count(*) FILTER (WHERE me.role = 'owner')::int AS owned,
       count(*) FILTER (WHERE shared)::int AS shared,
       count(*) FILTER (WHERE me.role = 'owner' AND NOT shared)::int AS "notShared"
FROM album a
JOIN album_user me ON me."albumId" = a.id AND me."userId" = %s
CROSS JOIN LATERAL (SELECT
    EXISTS (SELECT FROM album_user o WHERE o."albumId" = a.id AND o.role <> 'owner')
    OR EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id) AS shared) f
WHERE a."deletedAt" IS NULL
"""

CONTRIBUTORS = """
SELECT x."ownerId" AS "userId", count(*)::int AS "assetCount"
FROM album_asset aa JOIN asset x ON x.id = aa."assetId"
WHERE aa."albumId" = %s AND x."deletedAt" IS NULL
GROUP BY x."ownerId" ORDER BY "assetCount" DESC, x."ownerId"
"""

MAP_MARKERS = f"""
SELECT x.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
FROM album_asset aa JOIN asset x ON x.id = aa."assetId" JOIN asset_exif e ON e."assetId" = x.id
WHERE aa."albumId" = %s AND {VISIBLE} AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
ORDER BY x."fileCreatedAt" DESC
"""

# Immich's updateThumbnails, for the albums at hand: a cover that left the album (or was
# trashed) is replaced by the newest asset; an album with assets and no cover gets one.
FIX_COVERS = """
UPDATE album a SET "albumThumbnailAssetId" = (
    SELECT aa."assetId" FROM album_asset aa
    JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
    WHERE aa."albumId" = a.id ORDER BY x."fileCreatedAt" DESC LIMIT 1)
WHERE a.id = ANY(%s::uuid[]) AND (
    (a."albumThumbnailAssetId" IS NULL AND EXISTS (
        SELECT FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE aa."albumId" = a.id))
    OR (a."albumThumbnailAssetId" IS NOT NULL AND NOT EXISTS (
        SELECT FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE aa."albumId" = a.id AND aa."assetId" = a."albumThumbnailAssetId")))
"""


async def _rows(conn: Conn, query: str, params: Any) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params)
    return list(await cur.fetchall())


async def albums_by_ids(conn: Conn, me: UUID | str, ids: Sequence[UUID | str]) -> list[dict[str, Any]]:
    return await _rows(conn, BY_IDS, {"me": me, "ids": list(ids)})


async def album_by_id(conn: Conn, me: UUID | str, album_id: UUID | str) -> dict[str, Any] | None:
    rows = await albums_by_ids(conn, me, [album_id])
    return rows[0] if rows else None


async def my_albums(
    conn: Conn, me: UUID | str, *, owned: bool | None, shared: bool | None, album_id: UUID | None,
    name: str | None,
) -> list[dict[str, Any]]:
    params = {"me": me, "owned": owned, "shared": shared, "id": album_id, "name": name}
    return await _rows(conn, MINE, params)


async def my_albums_with_asset(conn: Conn, me: UUID | str, asset_id: UUID) -> list[dict[str, Any]]:
    return await _rows(conn, WITH_ASSET, {"me": me, "asset": asset_id})


async def statistics(conn: Conn, me: UUID | str) -> dict[str, Any]:
    rows = await _rows(conn, STATISTICS, (me,))
    return rows[0]


async def contributor_counts(conn: Conn, album_id: UUID | str) -> list[dict[str, Any]]:
    return await _rows(conn, CONTRIBUTORS, (album_id,))


async def map_markers(conn: Conn, album_id: UUID | str) -> list[dict[str, Any]]:
    return await _rows(conn, MAP_MARKERS, (album_id,))


async def fix_covers(conn: Conn, album_ids: Sequence[UUID | str]) -> None:
    if album_ids:
        await conn.execute(FIX_COVERS, (list(album_ids),))
