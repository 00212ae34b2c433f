"""What a download needs: sizes for splitting into archives, paths and names for the ZIP.

As Immich's download repository: an asset counts only with its ``asset_exif`` row (its size is
``fileSizeInByte``), trashed assets are left out, and no order is imposed (the rows come as
PostgreSQL scans them). A user's whole library leaves out hidden assets (live-photo parts),
which then come back through their still as motion parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

_SIZED = """
SELECT a.id, a."livePhotoVideoId", e."fileSizeInByte" AS size, a."originalPath"
FROM asset a JOIN asset_exif e ON e."assetId" = a.id
WHERE a."deletedAt" IS NULL
"""

BY_IDS = _SIZED + " AND a.id = ANY(%s)"
BY_ALBUM = _SIZED.replace("WHERE", 'JOIN album_asset aa ON aa."assetId" = a.id WHERE') + ' AND aa."albumId" = %s'
BY_OWNER = _SIZED + """ AND a."ownerId" = %s AND a.visibility <> 'hidden'"""

# The files behind ``downloadArchive``: the original, and the edited full-size rendering if any.
FOR_ORIGINALS = """
SELECT a.id, a."originalFileName", a."originalPath",
       (SELECT f.path FROM asset_file f
         WHERE f."assetId" = a.id AND f."isEdited" AND f.type = 'fullsize' LIMIT 1) AS "editedPath"
FROM asset a WHERE a.id = ANY(%s)
"""


async def _rows(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params)
    return list(await cur.fetchall())


async def sized_by_ids(conn: AsyncConnection[Any], ids: Sequence[UUID]) -> list[dict[str, Any]]:
    return await _rows(conn, BY_IDS, (list(ids),))


async def sized_by_album(conn: AsyncConnection[Any], album_id: UUID) -> list[dict[str, Any]]:
    return await _rows(conn, BY_ALBUM, (album_id,))


async def sized_by_owner(conn: AsyncConnection[Any], owner_id: UUID) -> list[dict[str, Any]]:
    return await _rows(conn, BY_OWNER, (owner_id,))


async def for_originals(conn: AsyncConnection[Any], ids: Sequence[UUID]) -> list[dict[str, Any]]:
    return await _rows(conn, FOR_ORIGINALS, (list(ids),))
