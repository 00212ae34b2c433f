"""The folders view: an owner's folders (from ``originalPath``) and the assets directly in one
(Immich's ``ViewRepository``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.assets.info import EXIF_JSON

# What the folders view shows: the owner's timeline assets, not in trash, with their dates set.
_SHOWN = """a."ownerId" = %(owner)s AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
    AND a."fileCreatedAt" IS NOT NULL AND a."fileModifiedAt" IS NOT NULL
    AND a."localDateTime" IS NOT NULL"""


async def unique_folders(conn: AsyncConnection[Any], owner_id: UUID | str) -> list[str]:
    """Every folder holding such an asset, sorted, without the trailing slash."""
    cur = await conn.execute(
        f"""
        SELECT DISTINCT substring(a."originalPath" FROM '^(.*/)[^/]*$') AS folder
        FROM asset a WHERE {_SHOWN}
        ORDER BY folder
        """,
        {"owner": owner_id},
    )
    return [(row["folder"] or "").rstrip("/") for row in await cur.fetchall()]


async def assets_in_folder(conn: AsyncConnection[Any], owner_id: UUID | str, folder: str) -> list[dict[str, Any]]:
    """The assets directly in ``folder`` (a trailing slash ignored; matched anywhere in the path,
    as Immich's LIKE does), by file name."""
    folder = folder.rstrip("/")
    cur = await conn.execute(
        f"""
        SELECT a.*, {EXIF_JSON} AS "exifInfo"
        FROM asset a
        WHERE {_SHOWN}
          AND a."originalPath" LIKE %(inside)s AND a."originalPath" NOT LIKE %(deeper)s
        ORDER BY regexp_replace(a."originalPath", '.*/(.+)', '\\1')
        """,
        {"owner": owner_id, "inside": f"%{folder}/%", "deeper": f"%{folder}/%/%"},
    )
    return list(await cur.fetchall())
