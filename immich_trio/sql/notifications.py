"""Notification rows (the bell): search, one by id, mark read, soft delete; and the rows the
server writes itself (an admin's, a job's failure for the admin).

Deleting sets ``deletedAt`` (a later cleanup removes the row); deleted rows are never listed
nor returned. The bulk writes touch exactly the ids given, as Immich's do; the caller has
checked access on every one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from immich_trio.sql import events

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


# --- written by the server: an admin's notification, a job's failure --------------------

INSERT = f"""
INSERT INTO notification ("userId", type, level, title, description, data)
VALUES (%(user)s, %(type)s, %(level)s, %(title)s, %(description)s, %(data)s)
RETURNING {_COLUMNS}
"""

# For the first admin (Immich's getAdmin), with the socket payload of mapNotification.
INSERT_FOR_ADMIN = """
WITH admin AS (
    SELECT id FROM "user" WHERE "isAdmin" AND "deletedAt" IS NULL ORDER BY "createdAt", id LIMIT 1
), n AS (
    INSERT INTO notification ("userId", type, level, title, description)
    SELECT admin.id, %(type)s, %(level)s, %(title)s, %(description)s FROM admin
    RETURNING *
)
SELECT n."userId", json_strip_nulls(json_build_object(
    'id', n.id, 'createdAt', to_char(n."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'level', n.level, 'type', n.type, 'title', n.title, 'description', n.description)) AS dto
FROM n
"""

JOB_FAILED_EVENT = "on_notification"


async def create(
    conn: AsyncConnection[Any],
    user_id: UUID,
    *,
    type: str,
    level: str,
    title: str,
    description: str | None = None,
    data: Any = None,
) -> dict[str, Any] | None:
    """One notification for ``user_id``; None when that user does not exist."""
    params = {
        "user": user_id, "type": type, "level": level, "title": title,
        "description": description, "data": None if data is None else Jsonb(data),
    }
    try:
        async with conn.transaction():
            cur = await conn.execute(INSERT, params)
    except psycopg.errors.ForeignKeyViolation:
        return None
    return await cur.fetchone()


async def notify_admin_of_failure(conn: AsyncConnection[Any], job_name: str, error: str) -> bool:
    """Immich's ``JobFailed`` bell row for the admin (and ``on_notification`` at commit);
    False when there is no admin."""
    params = {
        "type": "JobFailed", "level": "error", "title": "Job Failed",
        "description": f"Job {job_name} failed with error: {error}",
    }
    cur = await conn.execute(INSERT_FOR_ADMIN, params)
    row = await cur.fetchone()
    if row is None:
        return False
    await events.publish_to_user(conn, row["userId"], JOB_FAILED_EVENT, row["dto"])
    return True
