"""Queries on ``person`` outside the face pipeline: the faceless-person cleanup."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

# As Immich's getAllWithoutFaces: a person with no asset_face row at all (a soft-deleted
# face still counts as one). The audit trigger records each deletion for sync.
DELETE_FACELESS = """
DELETE FROM person p
WHERE NOT EXISTS (SELECT 1 FROM asset_face f WHERE f."personId" = p.id)
RETURNING p."thumbnailPath"
"""


async def delete_faceless(conn: AsyncConnection[Any]) -> list[str]:
    """Delete the people with no faces; their thumbnail paths (non-empty ones)."""
    cur = await conn.execute(DELETE_FACELESS)
    rows = await cur.fetchall()
    paths = (row["thumbnailPath"] if isinstance(row, dict) else row[0] for row in rows)
    return [path for path in paths if path]
