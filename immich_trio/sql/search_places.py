"""Search by place and camera: suggestions, one asset per city, explore, GeoNames places.

Suggestions list the distinct non-empty values of one exif column over the searched owners'
non-trashed timeline assets, narrowed by the other filters Immich cascades (country → state →
city; make ↔ model ↔ lens), sorted as ``DISTINCT ON`` sorts them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

from immich_trio.sql.assets.info import EXIF_JSON

Conn = AsyncConnection[Any]

# Suggestion type → (exif column, the filters that narrow it).
SUGGESTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "country": ("country", ()),
    "state": ("state", ("country",)),
    "city": ("city", ("country", "state")),
    "camera-make": ("make", ("model", "lensModel")),
    "camera-model": ("model", ("make", "lensModel")),
    "camera-lens-model": ("lensModel", ("make", "model")),
}


async def suggestions(
    conn: Conn, owner_ids: list[UUID], kind: str, filters: dict[str, str]
) -> list[str]:
    column, narrowing = SUGGESTIONS[kind]
    params: dict[str, Any] = {"owners": owner_ids}
    conds: list[sql.Composable] = []
    for name in narrowing:
        if filters.get(name):
            params[name] = filters[name]
            conds.append(sql.SQL("e.{} = %({})s").format(sql.Identifier(name), sql.SQL(name)))
    col = sql.SQL("e.{}").format(sql.Identifier(column))
    query = sql.SQL(
        """
SELECT DISTINCT ON ({col}) {col} AS value
FROM asset_exif e JOIN asset a ON a.id = e."assetId"
WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
  AND {col} IS NOT NULL AND {col} <> ''{extra}
ORDER BY {col}
"""
    ).format(col=col, extra=sql.SQL("").join(sql.SQL(" AND ") + c for c in conds))
    cur = await conn.execute(query, params)
    return [row["value"] for row in await cur.fetchall()]


_CITY_ASSET = """
    SELECT e.city, e."assetId"
    FROM asset_exif e JOIN asset a ON a.id = e."assetId"
    WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND a.visibility = 'timeline' AND a.type = 'IMAGE'
      AND a."deletedAt" IS NULL{after}
    ORDER BY e.city
    LIMIT 1"""

ASSETS_BY_CITY = f"""
WITH RECURSIVE cte AS (
    ({_CITY_ASSET.format(after="")})
    UNION ALL
    (SELECT l.city, l."assetId" FROM cte
     JOIN LATERAL ({_CITY_ASSET.format(after=' AND e.city > cte.city')}) l ON true)
)
SELECT a.*, {EXIF_JSON} AS "exifInfo"
FROM asset a JOIN asset_exif e ON e."assetId" = a.id JOIN cte ON cte."assetId" = a.id
ORDER BY e.city
"""


async def assets_by_city(conn: Conn, owner_ids: list[UUID]) -> list[dict[str, Any]]:
    """One image per city, walking the cities in order (Immich's loose index scan)."""
    cur = await conn.execute(ASSETS_BY_CITY, {"owners": owner_ids})
    return await cur.fetchall()


EXPLORE_CITIES = f"""
WITH cities AS (
    SELECT e.city
    FROM asset_exif e JOIN asset a ON a.id = e."assetId"
    WHERE a."ownerId" = %(owner)s AND e.city IS NOT NULL
    GROUP BY e.city
    HAVING count(e."assetId") >= %(min_assets)s
), picks AS (
    SELECT DISTINCT ON (e.city) e.city AS value, a.id AS data
    FROM asset a JOIN asset_exif e ON e."assetId" = a.id JOIN cities c ON c.city = e.city
    WHERE a."ownerId" = %(owner)s AND a.visibility = 'timeline' AND a.type = 'IMAGE'
      AND a."deletedAt" IS NULL
    ORDER BY e.city
    LIMIT %(max_fields)s
)
SELECT a.*, p.value, {EXIF_JSON} AS "exifInfo",
    (SELECT json_build_object(
        'id', u.id, 'email', u.email, 'name', u.name, 'profileImagePath', u."profileImagePath",
        'avatarColor', u."avatarColor", 'profileChangedAt', u."profileChangedAt")
     FROM "user" u WHERE u.id = a."ownerId") AS owner,
    (SELECT coalesce(json_agg(json_build_object(
        'id', t.id, 'parentId', t."parentId", 'value', t.value, 'createdAt', t."createdAt",
        'updatedAt', t."updatedAt", 'color', t.color) ORDER BY t.value), '[]'::json)
     FROM tag t JOIN tag_asset ta ON ta."tagId" = t.id WHERE ta."assetId" = a.id) AS tags
FROM picks p JOIN asset a ON a.id = p.data
ORDER BY p.value
"""


async def explore_cities(
    conn: Conn, owner_id: UUID, *, max_fields: int = 12, min_assets: int = 5
) -> list[dict[str, Any]]:
    """Cities with at least ``min_assets`` of the owner's assets, one image each."""
    cur = await conn.execute(
        EXPLORE_CITIES, {"owner": owner_id, "max_fields": max_fields, "min_assets": min_assets}
    )
    return await cur.fetchall()


SEARCH_PLACES = """
SELECT name, latitude, longitude, "admin1Name", "admin2Name"
FROM geodata_places
WHERE f_unaccent(name) %%>> f_unaccent(%(name)s)
   OR f_unaccent("admin2Name") %%>> f_unaccent(%(name)s)
   OR f_unaccent("admin1Name") %%>> f_unaccent(%(name)s)
   OR f_unaccent("alternateNames") %%>> f_unaccent(%(name)s)
ORDER BY coalesce(f_unaccent(name) <->>> f_unaccent(%(name)s), 0.1)
       + coalesce(f_unaccent("admin2Name") <->>> f_unaccent(%(name)s), 0.1)
       + coalesce(f_unaccent("admin1Name") <->>> f_unaccent(%(name)s), 0.1)
       + coalesce(f_unaccent("alternateNames") <->>> f_unaccent(%(name)s), 0.1)
LIMIT 20
"""


async def search_places(conn: Conn, name: str) -> list[dict[str, Any]]:
    """GeoNames places whose names resemble ``name`` (empty until geodata is loaded)."""
    cur = await conn.execute(SEARCH_PLACES, {"name": name})
    return await cur.fetchall()
