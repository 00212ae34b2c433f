"""Notification rows (the bell): search, one by id, mark read, soft delete.

Deleting sets ``deletedAt`` (a later cleanup removes the row); deleted rows are never listed
nor returned. The bulk writes touch exactly the ids given, as Immich's do; the caller has
checked access on every one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

_COLUMNS = 'id, "createdAt", level, type, title, description, data, "readAt"'

# Filters left NULL match everything; newest first.
SEARCH = f"""
SELECT {_COLUMNS} FROM notification
WHERE "userId" = %(user)s AND "deletedAt" IS NULL
  AND (%(id)s::uuid IS NULL OR id = %(id)s::uuid)
  AND (%(level)s::text IS NULL OR level = %(level)s::text)
  AND (%(type)s::text IS NULL OR type = %(type)s::text)
  AND (NOT %(unread)s OR "readAt" IS NULL)
ORDER BY "createdAt" DESC, id
"""

GET_LIVE = f"""SELECT {_COLUMNS} FROM notification WHERE id = %s AND "deletedAt" IS NULL"""

SET_READ_AT = f"""
UPDATE notification SET "readAt" = %s WHERE id = %s AND "deletedAt" IS NULL RETURNING {_COLUMNS}
"""

SET_READ_AT_ALL = """UPDATE notification SET "readAt" = %s WHERE id = ANY(%s::uuid[])"""

SOFT_DELETE = """UPDATE notification SET "deletedAt" = %s WHERE id = ANY(%s::uuid[])"""


async def search(
    conn: AsyncConnection[Any],
    user_id: UUID,
    *,
    id: UUID | None = None,
    level: str | None = None,
    type: str | None = None,
    unread: bool = False,
) -> list[dict[str, Any]]:
    params = {"user": user_id, "id": id, "level": level, "type": type, "unread": unread}
    cur = await conn.execute(SEARCH, params)
    return await cur.fetchall()


async def get_live(conn: AsyncConnection[Any], notification_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(GET_LIVE, (notification_id,))
    return await cur.fetchone()


async def set_read_at(
    conn: AsyncConnection[Any], notification_id: UUID, read_at: datetime | None
) -> dict[str, Any] | None:
    cur = await conn.execute(SET_READ_AT, (read_at, notification_id))
    return await cur.fetchone()


async def set_read_at_all(
    conn: AsyncConnection[Any], ids: list[UUID], read_at: datetime | None
) -> None:
    await conn.execute(SET_READ_AT_ALL, (read_at, ids))


async def soft_delete(conn: AsyncConnection[Any], ids: list[UUID], now: datetime) -> None:
    await conn.execute(SOFT_DELETE, (now, ids))
