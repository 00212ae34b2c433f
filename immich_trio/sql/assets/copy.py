"""Queries of ``copyAsset``: what one asset passes on to another (albums, shared links, stack,
favorite, sidecar), as Immich's album, shared-link, stack and asset repositories do it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

FOR_COPY = """
SELECT a.id, a."stackId", a."isFavorite", a."originalPath",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath"
FROM asset a WHERE a.id = %s
"""

COPY_ALBUMS = """
INSERT INTO album_asset ("albumId", "assetId")
SELECT "albumId", %(target)s FROM album_asset WHERE "assetId" = %(source)s
ON CONFLICT DO NOTHING
"""

COPY_SHARED_LINKS = """
INSERT INTO shared_link_asset ("sharedLinkId", "assetId")
SELECT "sharedLinkId", %(target)s FROM shared_link_asset WHERE "assetId" = %(source)s
ON CONFLICT DO NOTHING
"""

MERGE_STACK = 'UPDATE asset SET "stackId" = %(target)s WHERE "stackId" = %(source)s'
DELETE_STACK = "DELETE FROM stack WHERE id = %s"
JOIN_STACK = 'UPDATE asset SET "stackId" = %s WHERE id = %s'
SET_FAVORITE = 'UPDATE asset SET "isFavorite" = %s WHERE id = %s'

UPSERT_SIDECAR = """
INSERT INTO asset_file ("assetId", type, path, "isEdited") VALUES (%s, 'sidecar', %s, false)
ON CONFLICT ("assetId", type, "isEdited") DO UPDATE SET path = EXCLUDED.path
"""


async def asset_for_copy(conn: Conn, asset_id: UUID) -> dict[str, Any] | None:
    """id, stackId, isFavorite, originalPath and sidecarPath (None without one)."""
    cur = await conn.execute(FOR_COPY, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def copy_albums(conn: Conn, source: UUID, target: UUID) -> None:
    await conn.execute(COPY_ALBUMS, {"source": source, "target": target})


async def copy_shared_links(conn: Conn, source: UUID, target: UUID) -> None:
    await conn.execute(COPY_SHARED_LINKS, {"source": source, "target": target})


async def merge_stacks(conn: Conn, source_stack: UUID, target_stack: UUID) -> None:
    """Every asset of ``source_stack`` joins ``target_stack``; the emptied stack goes."""
    await conn.execute(MERGE_STACK, {"source": source_stack, "target": target_stack})
    await conn.execute(DELETE_STACK, (source_stack,))


async def join_stack(conn: Conn, asset_id: UUID, stack_id: UUID) -> None:
    await conn.execute(JOIN_STACK, (stack_id, asset_id))


async def set_favorite(conn: Conn, asset_id: UUID, favorite: bool) -> None:
    await conn.execute(SET_FAVORITE, (favorite, asset_id))


async def upsert_sidecar(conn: Conn, asset_id: UUID, path: str) -> None:
    await conn.execute(UPSERT_SIDECAR, (asset_id, path))
