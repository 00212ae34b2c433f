"""The ``move_history`` journal that makes a file move resumable (Immich's move repository): a
row naming the entity, the kind of file and both paths is written before the file moves, and
deleted in the same statement that records the new path. A run killed in between finds the row
again and settles it from what is on disk."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

# pathType values, as Immich writes them (AssetPathType / AssetFileType / PersonPathType)
ORIGINAL = "original"
SIDECAR = "sidecar"
FULLSIZE = "fullsize"
PREVIEW = "preview"
THUMBNAIL = "thumbnail"
ENCODED_VIDEO = "encoded_video"
FACE = "face"
ASSET_FILE_TYPES = frozenset({SIDECAR, FULLSIZE, PREVIEW, THUMBNAIL, ENCODED_VIDEO})

PENDING_MOVES = """
SELECT id, "pathType", "oldPath", "newPath" FROM move_history
WHERE "entityId" = %(entity)s AND "pathType" = ANY(%(types)s) ORDER BY "pathType"
"""
CREATE_MOVE = """
INSERT INTO move_history ("entityId", "pathType", "oldPath", "newPath") VALUES (%s, %s, %s, %s) RETURNING id
"""
DELETE_MOVE = "DELETE FROM move_history WHERE id = %s"
# The new path and the end of its move in one statement: both happen or neither.
FINISH_ORIGINAL = """
WITH done AS (DELETE FROM move_history WHERE id = %(move)s)
UPDATE asset SET "originalPath" = %(path)s WHERE id = %(entity)s
"""
FINISH_ASSET_FILE = """
WITH done AS (DELETE FROM move_history WHERE id = %(move)s)
UPDATE asset_file SET path = %(path)s, "updatedAt" = now()
WHERE "assetId" = %(entity)s AND type = %(type)s AND NOT "isEdited"
"""
FINISH_FACE = """
WITH done AS (DELETE FROM move_history WHERE id = %(move)s)
UPDATE person SET "thumbnailPath" = %(path)s WHERE id = %(entity)s
"""


async def pending_moves(conn: Conn, entity_id: UUID | str, path_types: Iterable[str]) -> list[dict[str, Any]]:
    """The moves of ``entity_id``'s files of these kinds that an earlier run left unfinished."""
    cur = await conn.execute(PENDING_MOVES, {"entity": entity_id, "types": sorted(path_types)})
    return await cur.fetchall()


async def create_move(conn: Conn, entity_id: UUID | str, path_type: str, old: str, new: str) -> UUID:
    """Raises UniqueViolation when ``new`` is another move's target or the file is moving already."""
    cur = await conn.execute(CREATE_MOVE, (entity_id, path_type, old, new))
    row = await cur.fetchone()
    assert row is not None
    return row["id"]  # type: ignore[no-any-return]


async def delete_move(conn: Conn, move_id: UUID) -> None:
    await conn.execute(DELETE_MOVE, (move_id,))


async def finish_move(conn: Conn, move_id: UUID, path_type: str, entity_id: UUID | str, path: str) -> None:
    """Record ``path`` as the entity's file of that kind and forget the move, atomically."""
    if path_type == ORIGINAL:
        query = FINISH_ORIGINAL
    elif path_type == FACE:
        query = FINISH_FACE
    elif path_type in ASSET_FILE_TYPES:
        query = FINISH_ASSET_FILE
    else:
        raise ValueError(f"unknown move path type {path_type!r}")
    await conn.execute(query, {"move": move_id, "path": path, "entity": entity_id, "type": path_type})
