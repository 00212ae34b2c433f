"""The files of an asset, for the routes that serve them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]


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
