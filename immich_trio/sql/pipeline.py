"""Queries of the media pipeline: what metadata extraction and thumbnail generation read about an
asset, and what they write back (``asset_exif``, the asset's dates and size, ``asset_file``,
``asset_job_status``).

The writers run inside the dispatcher's completion transaction (``JobResult.apply``); each
starts with ``lock_asset`` so that an asset deleted meanwhile turns the apply into a no-op
instead of a foreign-key error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]

# -- reads -----------------------------------------------------------------------------

FOR_METADATA = """
SELECT a.id, a."ownerId", a.type, a."originalPath", a."originalFileName", a."fileCreatedAt",
       a."fileModifiedAt", a.visibility, a."isEdited",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath"
FROM asset a WHERE a.id = %s
"""

FOR_THUMBNAILS = """
SELECT a.id, a."ownerId", a.type, a."originalPath", a.visibility, a.width, a.height,
       e."projectionType"
FROM asset a LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE a.id = %s
"""


async def asset_for_metadata(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The asset and the path of its sidecar (None if it has none); None if gone."""
    cur = await conn.execute(FOR_METADATA, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def asset_for_thumbnails(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_THUMBNAILS, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


# -- writes (inside the apply transaction) ---------------------------------------------

LOCK_ASSET = "SELECT id FROM asset WHERE id = %s FOR UPDATE"
LOCKED_PROPERTIES = 'SELECT "lockedProperties" FROM asset_exif WHERE "assetId" = %s FOR UPDATE'

UPDATE_ASSET_METADATA = """
UPDATE asset SET
    "fileCreatedAt" = %(fileCreatedAt)s,
    "localDateTime" = %(localDateTime)s,
    "fileModifiedAt" = %(fileModifiedAt)s,
    duration = CASE WHEN %(keepDuration)s THEN coalesce(%(duration)s, duration)
                    ELSE %(duration)s END,
    -- An edited asset's size is the size of the edit, not of the original.
    width = CASE WHEN "isEdited" THEN width ELSE %(width)s END,
    height = CASE WHEN "isEdited" THEN height ELSE %(height)s END
WHERE id = %(id)s
"""

MARK_METADATA_EXTRACTED = """
INSERT INTO asset_job_status ("assetId", "metadataExtractedAt") VALUES (%s, %s)
ON CONFLICT ("assetId") DO UPDATE SET "metadataExtractedAt" = EXCLUDED."metadataExtractedAt"
"""

UPSERT_FILE = """
INSERT INTO asset_file ("assetId", type, path, "isEdited", "isProgressive", "isTransparent")
VALUES (%(assetId)s, %(type)s, %(path)s, false, %(isProgressive)s, %(isTransparent)s)
ON CONFLICT ("assetId", type, "isEdited") DO UPDATE SET
    path = EXCLUDED.path,
    "isProgressive" = EXCLUDED."isProgressive",
    "isTransparent" = EXCLUDED."isTransparent"
"""

DELETE_FILE = """
DELETE FROM asset_file WHERE "assetId" = %s AND type = %s AND NOT "isEdited" RETURNING path
"""

SET_THUMBHASH = """
UPDATE asset SET
    thumbhash = %(thumbhash)s,
    width = coalesce(width, %(width)s),
    height = coalesce(height, %(height)s)
WHERE id = %(id)s
"""


async def lock_asset(conn: Conn, asset_id: UUID | str) -> bool:
    """Lock the asset row until commit; False if it was deleted."""
    cur = await conn.execute(LOCK_ASSET, (asset_id,))
    return await cur.fetchone() is not None


async def locked_properties(conn: Conn, asset_id: UUID | str) -> frozenset[str]:
    """The ``asset_exif`` columns the user edited (kept by metadata extraction)."""
    cur = await conn.execute(LOCKED_PROPERTIES, (asset_id,))
    row = await cur.fetchone()
    if row is None or not row["lockedProperties"]:
        return frozenset()
    return frozenset(row["lockedProperties"])


async def upsert_exif(conn: Conn, asset_id: UUID | str, columns: Mapping[str, Any]) -> None:
    """Insert or update the asset's ``asset_exif`` row with ``columns`` (name → value).

    Column names come from ``ExifRecord.columns`` (a fixed set), quoted as identifiers.
    """
    names = ["assetId", *columns]
    insert = sql.SQL(
        "INSERT INTO asset_exif ({names}) VALUES ({values}) ON CONFLICT (\"assetId\") DO {action}"
    ).format(
        names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        values=sql.SQL(", ").join(sql.Placeholder(n) for n in names),
        action=(
            sql.SQL("UPDATE SET {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{col} = EXCLUDED.{col}").format(col=sql.Identifier(n))
                    for n in columns
                )
            )
            if columns
            else sql.SQL("NOTHING")
        ),
    )
    await conn.execute(insert, {"assetId": asset_id, **columns})


async def update_asset_metadata(
    conn: Conn,
    asset_id: UUID | str,
    *,
    file_created_at: datetime,
    local_date_time: datetime,
    file_modified_at: datetime,
    duration: int | None,
    keep_duration: bool,
    width: int | None,
    height: int | None,
) -> None:
    """Set the asset's dates, duration and display size from extracted metadata.

    ``keep_duration``: keep the current duration when none was extracted (videos, until
    ffprobe runs here).
    """
    await conn.execute(
        UPDATE_ASSET_METADATA,
        {
            "id": asset_id,
            "fileCreatedAt": file_created_at,
            "localDateTime": local_date_time,
            "fileModifiedAt": file_modified_at,
            "duration": duration,
            "keepDuration": keep_duration,
            "width": width,
            "height": height,
        },
    )


async def mark_metadata_extracted(conn: Conn, asset_id: UUID | str, when: datetime) -> None:
    await conn.execute(MARK_METADATA_EXTRACTED, (asset_id, when))


async def upsert_file(
    conn: Conn,
    asset_id: UUID | str,
    file_type: str,
    path: str,
    *,
    is_progressive: bool,
    is_transparent: bool,
) -> None:
    """The asset's (unedited) file of ``file_type`` (preview, thumbnail, fullsize) is ``path``."""
    await conn.execute(
        UPSERT_FILE,
        {
            "assetId": asset_id,
            "type": file_type,
            "path": path,
            "isProgressive": is_progressive,
            "isTransparent": is_transparent,
        },
    )


async def delete_file(conn: Conn, asset_id: UUID | str, file_type: str) -> str | None:
    """Forget the asset's (unedited) file of ``file_type``; its path, if there was one."""
    cur = await conn.execute(DELETE_FILE, (asset_id, file_type))
    row = await cur.fetchone()
    return None if row is None else str(row["path"])


async def set_thumbhash(
    conn: Conn, asset_id: UUID | str, thumbhash: bytes, *, width: int, height: int
) -> None:
    """Store the thumbhash; fill the asset's size from the decode when metadata had none."""
    await conn.execute(
        SET_THUMBHASH, {"id": asset_id, "thumbhash": thumbhash, "width": width, "height": height}
    )
