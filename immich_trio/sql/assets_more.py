"""Queries of the Assets tag beyond upload: access checks, edits, trash, statistics, metadata, files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]

# -- access ------------------------------------------------------------------------------

# Immich's checkOwnerAccess: locked assets only for an elevated session.
OWNED_IDS = """
SELECT id FROM asset
WHERE id = ANY(%(ids)s::uuid[]) AND "ownerId" = %(owner)s
  AND (%(elevated)s OR visibility <> 'locked')
"""

# Owner access, or partner access (timeline and hidden assets of a user sharing with us).
VIEWABLE = """
SELECT a.id FROM asset a
WHERE a.id = %(id)s AND (
    (a."ownerId" = %(user)s AND (%(elevated)s OR a.visibility <> 'locked'))
    OR (a.visibility IN ('timeline', 'hidden') AND EXISTS (
        SELECT 1 FROM partner p
        WHERE p."sharedById" = a."ownerId" AND p."sharedWithId" = %(user)s))
)
"""


async def owned_ids(
    conn: Conn, ids: Iterable[UUID], owner_id: UUID, *, elevated: bool
) -> set[UUID]:
    cur = await conn.execute(OWNED_IDS, {"ids": list(ids), "owner": owner_id, "elevated": elevated})
    return {row["id"] for row in await cur.fetchall()}


async def can_view(conn: Conn, asset_id: UUID, user_id: UUID, *, elevated: bool) -> bool:
    cur = await conn.execute(VIEWABLE, {"id": asset_id, "user": user_id, "elevated": elevated})
    return await cur.fetchone() is not None


# -- updates -----------------------------------------------------------------------------

ASSET_COLUMNS = frozenset({"isFavorite", "visibility", "livePhotoVideoId", "duplicateId"})
# Exif columns a user may edit, with the types their parameters are cast to.
EXIF_COLUMNS: Mapping[str, str] = {
    "description": "text",
    "dateTimeOriginal": "timestamptz",
    "timeZone": "varchar",
    "latitude": "float8",
    "longitude": "float8",
    "rating": "int4",
}


async def update_assets(conn: Conn, ids: Sequence[UUID], values: Mapping[str, Any]) -> None:
    """Set asset columns (``ASSET_COLUMNS``) on ``ids``; nothing when ``values`` is empty."""
    if not values:
        return
    assert set(values) <= ASSET_COLUMNS, values
    sets = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(
            sql.Identifier(k),
            sql.SQL("%({})s::asset_visibility_enum").format(sql.SQL(k))
            if k == "visibility"
            else sql.Placeholder(k),
        )
        for k in values
    )
    query = sql.SQL("UPDATE asset SET {sets} WHERE id = ANY(%(ids)s::uuid[])").format(sets=sets)
    await conn.execute(query, {**values, "ids": list(ids)})


async def upsert_exif_locked(conn: Conn, ids: Sequence[UUID], values: Mapping[str, Any]) -> None:
    """Write user-edited exif columns and add them to ``lockedProperties`` (Immich's 'append')."""
    if not values:
        return
    assert set(values) <= set(EXIF_COLUMNS), values
    cols = list(values)
    query = sql.SQL(
        """
INSERT INTO asset_exif ("assetId", {cols}, "lockedProperties")
SELECT id, {placeholders}, %(locked)s::varchar[] FROM unnest(%(ids)s::uuid[]) AS id
ON CONFLICT ("assetId") DO UPDATE SET {sets},
    "lockedProperties" = (
        SELECT array_agg(DISTINCT p ORDER BY p)
        FROM unnest(coalesce(asset_exif."lockedProperties", '{{}}') || EXCLUDED."lockedProperties") AS p)
"""
    ).format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        placeholders=sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Placeholder(c), sql.SQL(EXIF_COLUMNS[c])) for c in cols
        ),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in cols
        ),
    )
    await conn.execute(query, {**values, "ids": list(ids), "locked": cols})


SHIFT_DATE_TIME_ORIGINAL = """
UPDATE asset_exif SET
    "dateTimeOriginal" = "dateTimeOriginal" + make_interval(mins => %(minutes)s),
    "timeZone" = coalesce(%(tz)s, "timeZone"),
    "lockedProperties" = (
        SELECT array_agg(DISTINCT p ORDER BY p)
        FROM unnest(coalesce("lockedProperties", '{}') || %(locked)s::varchar[]) AS p)
WHERE "assetId" = ANY(%(ids)s::uuid[])
"""


async def shift_date_time_original(
    conn: Conn, ids: Sequence[UUID], minutes: int, time_zone: str | None
) -> None:
    locked = ["dateTimeOriginal"] + (["timeZone"] if time_zone is not None else [])
    await conn.execute(
        SHIFT_DATE_TIME_ORIGINAL,
        {"ids": list(ids), "minutes": minutes, "tz": time_zone, "locked": locked},
    )


REMOVE_FROM_ALBUMS = 'DELETE FROM album_asset WHERE "assetId" = ANY(%s::uuid[])'


async def remove_from_all_albums(conn: Conn, ids: Sequence[UUID]) -> None:
    await conn.execute(REMOVE_FROM_ALBUMS, (list(ids),))


MOTION_PART = 'SELECT id, type, "ownerId", visibility, "originalPath" FROM asset WHERE id = %s'
LIVE_PHOTO_VIDEO_OF = 'SELECT "livePhotoVideoId" FROM asset WHERE id = %s'


async def motion_part(conn: Conn, asset_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(MOTION_PART, (asset_id,))
    return await cur.fetchone()


async def live_photo_video_of(conn: Conn, asset_id: UUID) -> UUID | None:
    cur = await conn.execute(LIVE_PHOTO_VIDEO_OF, (asset_id,))
    row = await cur.fetchone()
    return row["livePhotoVideoId"] if row else None


# -- trash -------------------------------------------------------------------------------

TRASH = """
UPDATE asset SET "deletedAt" = %(now)s, status = %(status)s::assets_status_enum
WHERE id = ANY(%(ids)s::uuid[])
"""


async def trash(conn: Conn, ids: Sequence[UUID], now: datetime, *, force: bool) -> None:
    """Move to the trash (status ``trashed``) or mark for deletion (``deleted``)."""
    status = "deleted" if force else "trashed"
    await conn.execute(TRASH, {"ids": list(ids), "now": now, "status": status})


# -- statistics --------------------------------------------------------------------------


async def statistics(
    conn: Conn,
    owner_id: UUID,
    *,
    visibility: str | None,
    is_favorite: bool | None,
    is_trashed: bool | None,
) -> dict[str, int]:
    params: dict[str, Any] = {"owner": owner_id}
    conds = [sql.SQL('"ownerId" = %(owner)s')]
    if visibility is None:
        conds.append(sql.SQL("visibility IN ('archive', 'timeline')"))
    else:
        params["visibility"] = visibility
        conds.append(sql.SQL("visibility = %(visibility)s::asset_visibility_enum"))
    if is_favorite is not None:
        params["favorite"] = is_favorite
        conds.append(sql.SQL('"isFavorite" = %(favorite)s'))
    if is_trashed:
        conds.append(sql.SQL("""status <> 'deleted' AND "deletedAt" IS NOT NULL"""))
    else:
        conds.append(sql.SQL('"deletedAt" IS NULL'))
    query = sql.SQL(
        """
SELECT count(*) FILTER (WHERE type = 'IMAGE') AS images,
       count(*) FILTER (WHERE type = 'VIDEO') AS videos,
       count(*) AS total
FROM asset WHERE {where}
"""
    ).format(where=sql.SQL(" AND ").join(conds))
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


# -- files -------------------------------------------------------------------------------

FOR_FILES = """
SELECT a.id, a."ownerId", a.type, a."originalPath", a."originalFileName", a."isEdited",
       coalesce(json_agg(json_build_object('type', f.type, 'path', f.path, 'isEdited', f."isEdited"))
                FILTER (WHERE f.id IS NOT NULL), '[]') AS files
FROM asset a LEFT JOIN asset_file f ON f."assetId" = a.id
WHERE a.id = %s
GROUP BY a.id
"""


async def for_files(conn: Conn, asset_id: UUID) -> dict[str, Any] | None:
    """The asset's original and its generated files (``files``: type, path, isEdited)."""
    cur = await conn.execute(FOR_FILES, (asset_id,))
    return await cur.fetchone()


# -- metadata ----------------------------------------------------------------------------

METADATA = """
SELECT "assetId", key, value, "updatedAt" FROM asset_metadata WHERE "assetId" = %s ORDER BY key
"""
METADATA_BY_KEY = """
SELECT "assetId", key, value, "updatedAt" FROM asset_metadata WHERE "assetId" = %s AND key = %s
"""
UPSERT_METADATA = """
INSERT INTO asset_metadata ("assetId", key, value) VALUES (%s, %s, %s)
ON CONFLICT ("assetId", key) DO UPDATE SET value = EXCLUDED.value
RETURNING "assetId", key, value, "updatedAt"
"""
DELETE_METADATA = 'DELETE FROM asset_metadata WHERE "assetId" = %s AND key = %s'


async def metadata(conn: Conn, asset_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(METADATA, (asset_id,))
    return await cur.fetchall()


async def metadata_by_key(conn: Conn, asset_id: UUID, key: str) -> dict[str, Any] | None:
    cur = await conn.execute(METADATA_BY_KEY, (asset_id, key))
    return await cur.fetchone()


async def upsert_metadata(
    conn: Conn, items: Iterable[tuple[UUID, str, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Upsert ``(assetId, key, value)`` items in order; the rows as stored."""
    out = []
    for asset_id, key, value in items:
        cur = await conn.execute(UPSERT_METADATA, (asset_id, key, Jsonb(dict(value))))
        row = await cur.fetchone()
        assert row is not None
        out.append(row)
    return out


async def delete_metadata(conn: Conn, items: Iterable[tuple[UUID, str]]) -> None:
    for asset_id, key in items:
        await conn.execute(DELETE_METADATA, (asset_id, key))
