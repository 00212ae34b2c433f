"""Edits of assets: columns, locked exif fields, date shifts, live-photo links and trash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]


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
