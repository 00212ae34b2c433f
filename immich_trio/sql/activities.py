"""Activity rows: comments and likes on an album (``assetId`` null) or on one of its assets.

Every answer carries its author as Immich loads it (a JSON object, so ``profileChangedAt``
keeps PostgreSQL's text form). Authors who are soft-deleted are left out, and so are
activities on trashed assets, as Immich's activity repository does; statistics also leave out
locked assets.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

_AUTHOR = """
json_build_object(
    'id', u.id, 'email', u.email, 'name', u.name, 'profileImagePath', u."profileImagePath",
    'avatarColor', u."avatarColor", 'profileChangedAt', u."profileChangedAt"
) AS "user"
"""

_ACTIVITY = f'ac.id, ac."assetId", ac."createdAt", ac.comment, ac."isLiked", {_AUTHOR}'

# Filters are optional: a NULL parameter drops its condition. ``albumLevel`` keeps only
# activities on the album itself.
SEARCH = f"""
SELECT {_ACTIVITY}
FROM activity ac
JOIN "user" u ON u.id = ac."userId" AND u."deletedAt" IS NULL
LEFT JOIN asset a ON a.id = ac."assetId"
WHERE ac."albumId" = %(album)s
  AND a."deletedAt" IS NULL
  AND (%(user)s::uuid IS NULL OR ac."userId" = %(user)s)
  AND (%(asset)s::uuid IS NULL OR ac."assetId" = %(asset)s)
  AND (NOT %(album_level)s OR ac."assetId" IS NULL)
  AND (%(liked)s::boolean IS NULL OR ac."isLiked" = %(liked)s)
ORDER BY ac."createdAt", ac.id
"""

STATISTICS = """
SELECT count(*) FILTER (WHERE NOT ac."isLiked") AS comments,
       count(*) FILTER (WHERE ac."isLiked") AS likes
FROM activity ac
JOIN "user" u ON u.id = ac."userId" AND u."deletedAt" IS NULL
LEFT JOIN asset a ON a.id = ac."assetId"
WHERE ac."albumId" = %(album)s
  AND (%(asset)s::uuid IS NULL OR ac."assetId" = %(asset)s)
  AND (a.id IS NULL OR (a."deletedAt" IS NULL AND a.visibility <> 'locked'))
"""

# Serialises likes of one user on one target, so a concurrent twin finds the first like
# (the unique index does not cover album likes, whose assetId is NULL).
LOCK_LIKE = """
SELECT pg_advisory_xact_lock(hashtextextended(
    'activity-like:' || %(album)s::text || ':' || %(user)s::text || ':'
    || coalesce(%(asset)s::text, ''), 0))
"""

FIND_LIKE = f"""
SELECT {_ACTIVITY}
FROM activity ac JOIN "user" u ON u.id = ac."userId"
WHERE ac."albumId" = %(album)s AND ac."userId" = %(user)s AND ac."isLiked"
  AND ac."assetId" IS NOT DISTINCT FROM %(asset)s::uuid
ORDER BY ac."createdAt"
LIMIT 1
"""

CREATE = f"""
WITH ac AS (
    INSERT INTO activity ("albumId", "userId", "assetId", comment, "isLiked")
    VALUES (%(album)s, %(user)s, %(asset)s, %(comment)s, %(liked)s)
    RETURNING *
)
SELECT {_ACTIVITY} FROM ac JOIN "user" u ON u.id = ac."userId"
"""

DELETE = "DELETE FROM activity WHERE id = %s"


async def search(
    conn: Conn,
    album_id: UUID,
    *,
    user_id: UUID | None = None,
    asset_id: UUID | None = None,
    album_level: bool = False,
    liked: bool | None = None,
) -> list[dict[str, Any]]:
    params = {
        "album": album_id, "user": user_id, "asset": asset_id,
        "album_level": album_level, "liked": liked,
    }
    cur = await conn.execute(SEARCH, params)
    return await cur.fetchall()


async def statistics(conn: Conn, album_id: UUID, asset_id: UUID | None) -> dict[str, Any]:
    cur = await conn.execute(STATISTICS, {"album": album_id, "asset": asset_id})
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def like(
    conn: Conn, album_id: UUID, user_id: UUID, asset_id: UUID | None
) -> tuple[dict[str, Any], bool]:
    """The user's like of the album (or of its asset) and whether it already existed."""
    params: dict[str, Any] = {"album": album_id, "user": user_id, "asset": asset_id}
    await conn.execute(LOCK_LIKE, params)
    cur = await conn.execute(FIND_LIKE, params)
    existing = await cur.fetchone()
    if existing is not None:
        return existing, True
    cur = await conn.execute(CREATE, {**params, "comment": None, "liked": True})
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row, False


async def comment(
    conn: Conn, album_id: UUID, user_id: UUID, asset_id: UUID | None, text: str
) -> dict[str, Any]:
    params = {"album": album_id, "user": user_id, "asset": asset_id, "comment": text, "liked": False}
    cur = await conn.execute(CREATE, params)
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def delete(conn: Conn, activity_id: UUID) -> None:
    await conn.execute(DELETE, (activity_id,))
