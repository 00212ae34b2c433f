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


# The exif indexes whose order lists a column's values (migration 0005 and Immich's city
# index), by the narrowing columns they lead with: column → the possible leading columns.
_ORDERED_BY: dict[str, tuple[tuple[str, ...], ...]] = {
    "country": ((),),
    "state": ((), ("country",)),
    "city": ((), ("country",), ("state",)),
    "make": ((), ("model",)),
    "model": ((), ("make",)),
    "lensModel": ((),),
}


def _walks_index(column: str, narrowing: set[str]) -> bool:
    """Whether the loose index scan suits: an index lists the column's values after leading
    columns that are all narrowed (equality) and, if some narrowing is left for the heap, the
    leading columns bound the rows it reads; otherwise one pass with DISTINCT is cheaper."""
    return any(
        set(lead) <= narrowing and (bool(lead) or not narrowing) for lead in _ORDERED_BY[column]
    )


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
    extra = sql.SQL("").join(sql.SQL(" AND ") + c for c in conds)
    if not _walks_index(column, {name for name in narrowing if filters.get(name)}):
        query = sql.SQL(
            """
SELECT DISTINCT ON ({col}) {col} AS value
FROM asset_exif e JOIN asset a ON a.id = e."assetId"
WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
  AND {col} IS NOT NULL AND {col} <> ''{extra}
ORDER BY {col}
"""
        ).format(col=col, extra=extra)
        cur = await conn.execute(query, params)
        return [row["value"] for row in await cur.fetchall()]
    # A loose index scan: each step takes the next value above the last one that has a
    # searched asset, so an index on the column (after the narrowing columns) is walked value
    # by value instead of every exif row being joined and sorted; same rows as
    # ``SELECT DISTINCT ON (col) col ... ORDER BY col``.
    step = sql.SQL(
        """SELECT {col} AS value
    FROM asset_exif e JOIN asset a ON a.id = e."assetId"
    WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
      AND {col} IS NOT NULL AND {col} <> ''{extra}{after}
    ORDER BY {col}
    LIMIT 1"""
    )
    query = sql.SQL(
        """
WITH RECURSIVE v AS (
    ({first})
    UNION ALL
    (SELECT l.value FROM v JOIN LATERAL ({next}) l ON true)
)
SELECT value FROM v
"""
    ).format(
        first=step.format(col=col, extra=extra, after=sql.SQL("")),
        next=step.format(col=col, extra=extra, after=sql.SQL(" AND {} > v.value").format(col)),
    )
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


_EXPLORE_STEP = """
    SELECT e.city AS value, e."assetId" AS data
    FROM asset_exif e JOIN asset a ON a.id = e."assetId"
    WHERE a."ownerId" = %(owner)s AND a.visibility = 'timeline' AND a.type = 'IMAGE'
      AND a."deletedAt" IS NULL AND e.city IS NOT NULL{after}
    ORDER BY e.city
    LIMIT 1"""

# The cities in order, one image each, by a loose scan of the city index (as assets_by_city);
# a city counts when the owner has at least ``min_assets`` exif rows there, which is checked by
# reading that many rows, not by counting them all. The walk stops at ``max_fields`` cities.
EXPLORE_CITIES = f"""
WITH RECURSIVE walk AS (
    ({_EXPLORE_STEP.format(after="")})
    UNION ALL
    (SELECT l.value, l.data FROM walk
     JOIN LATERAL ({_EXPLORE_STEP.format(after=" AND e.city > walk.value")}) l ON true)
), picks AS (
    SELECT w.value, w.data FROM walk w
    WHERE (SELECT count(*) FROM (
        SELECT 1 FROM asset_exif e JOIN asset a ON a.id = e."assetId"
        WHERE e.city = w.value AND a."ownerId" = %(owner)s
        LIMIT %(min_assets)s) enough) >= %(min_assets)s
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
