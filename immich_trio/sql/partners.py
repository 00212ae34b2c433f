"""Partner rows: a user (``sharedById``) shares their library with another (``sharedWithId``).

Every answer carries the *other* user of the pair as Immich loads it: aggregated to JSON in SQL,
so ``profileChangedAt`` keeps PostgreSQL's text form (docs/reference/behaviour.md §6).
Pairs where either user is soft-deleted are left out, as Immich's partner repository does.
Deleting a row fills ``partner_audit`` through the schema's trigger (sync picks it up).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection

Side = Literal["sharedById", "sharedWithId"]

# The other user's columns, read from ``u``, plus the pair's choice.
_PARTNER = """
    u.id, u.email, u.name, u."profileImagePath", u."avatarColor",
    to_json(u."profileChangedAt") #>> '{}' AS "profileChangedAt", p."inTimeline"
"""

_LIVE_PAIR = """
JOIN "user" sb ON sb.id = p."sharedById" AND sb."deletedAt" IS NULL
JOIN "user" sw ON sw.id = p."sharedWithId" AND sw."deletedAt" IS NULL
"""

# The users the caller shares with (direction shared-by) or who share with them (shared-with).
PARTNERS_SHARED_BY = f"""
SELECT {_PARTNER} FROM partner p {_LIVE_PAIR}
JOIN "user" u ON u.id = p."sharedWithId"
WHERE p."sharedById" = %s
ORDER BY p."createdAt", u.id
"""

PARTNERS_SHARED_WITH = f"""
SELECT {_PARTNER} FROM partner p {_LIVE_PAIR}
JOIN "user" u ON u.id = p."sharedById"
WHERE p."sharedWithId" = %s
ORDER BY p."createdAt", u.id
"""

PAIR_EXISTS = f"""
SELECT 1 FROM partner p {_LIVE_PAIR}
WHERE p."sharedById" = %s AND p."sharedWithId" = %s
"""

LIVE_USER_EXISTS = """SELECT 1 FROM "user" WHERE id = %s AND "deletedAt" IS NULL"""

# A concurrent twin of the same pair inserts nothing: the caller answers "already exists".
CREATE_PARTNER = f"""
WITH p AS (
    INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)
    ON CONFLICT DO NOTHING
    RETURNING *
)
SELECT {_PARTNER} FROM p JOIN "user" u ON u.id = p."sharedWithId"
"""

# Only the receiving user chooses; the answer shows the user who shares.
UPDATE_IN_TIMELINE = f"""
WITH p AS (
    UPDATE partner SET "inTimeline" = %s
    WHERE "sharedById" = %s AND "sharedWithId" = %s
    RETURNING *
)
SELECT {_PARTNER} FROM p JOIN "user" u ON u.id = p."sharedById"
"""

REMOVE_PARTNER = """DELETE FROM partner WHERE "sharedById" = %s AND "sharedWithId" = %s"""


async def partners_of(
    conn: AsyncConnection[Any], user_id: UUID, *, shared_by_me: bool
) -> list[dict[str, Any]]:
    query = PARTNERS_SHARED_BY if shared_by_me else PARTNERS_SHARED_WITH
    cur = await conn.execute(query, (user_id,))
    return await cur.fetchall()


async def pair_exists(conn: AsyncConnection[Any], shared_by: UUID, shared_with: UUID) -> bool:
    cur = await conn.execute(PAIR_EXISTS, (shared_by, shared_with))
    return await cur.fetchone() is not None


async def live_user_exists(conn: AsyncConnection[Any], user_id: UUID) -> bool:
    cur = await conn.execute(LIVE_USER_EXISTS, (user_id,))
    return await cur.fetchone() is not None


async def create_partner(
    conn: AsyncConnection[Any], shared_by: UUID, shared_with: UUID
) -> dict[str, Any] | None:
    """The new pair as the user shared with; None when the pair already exists."""
    cur = await conn.execute(CREATE_PARTNER, (shared_by, shared_with))
    return await cur.fetchone()


async def set_in_timeline(
    conn: AsyncConnection[Any], shared_by: UUID, shared_with: UUID, in_timeline: bool
) -> dict[str, Any] | None:
    cur = await conn.execute(UPDATE_IN_TIMELINE, (in_timeline, shared_by, shared_with))
    return await cur.fetchone()


async def remove_partner(conn: AsyncConnection[Any], shared_by: UUID, shared_with: UUID) -> None:
    await conn.execute(REMOVE_PARTNER, (shared_by, shared_with))
