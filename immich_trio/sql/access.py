"""Who may touch which asset: the seed of the access module (owner and partner checks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

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
