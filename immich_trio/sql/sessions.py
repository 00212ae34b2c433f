"""Session rows: creation at login and for casting, listing, deletion and PIN elevation."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

_COLUMNS = """
    id, "createdAt", "updatedAt", "expiresAt", "appVersion", "deviceType", "deviceOS",
    "isPendingSyncReset", "pinExpiresAt", "parentId", "userId"
"""

CREATE_SESSION = f"""
INSERT INTO session (token, "userId", "parentId", "expiresAt", "deviceType", "deviceOS", "appVersion")
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING {_COLUMNS}
"""

# Expired sessions are not listed; most recently used first.
SESSIONS_OF_USER = f"""
SELECT {_COLUMNS} FROM session
WHERE "userId" = %s AND ("expiresAt" IS NULL OR "expiresAt" > %s)
ORDER BY "updatedAt" DESC, "createdAt" DESC
"""

SESSION_BY_ID = f"""SELECT {_COLUMNS} FROM session WHERE id = %s"""

DELETE_SESSION = """
DELETE FROM session WHERE id = %s RETURNING "userId"
"""

# Every session of the user but one (the caller's); all of them when there is none to keep.
DELETE_OTHER_SESSIONS = """
DELETE FROM session WHERE "userId" = %s AND (%s::uuid IS NULL OR id <> %s::uuid)
"""

SET_PIN_EXPIRES = """
UPDATE session SET "pinExpiresAt" = %s WHERE id = %s RETURNING "userId"
"""

LOCK_ALL_SESSIONS = """UPDATE session SET "pinExpiresAt" = NULL WHERE "userId" = %s"""

SET_PENDING_SYNC_RESET = f"""
UPDATE session SET "isPendingSyncReset" = %s WHERE id = %s RETURNING {_COLUMNS}
"""


async def create_session(
    conn: AsyncConnection[Any],
    *,
    token_hash: bytes,
    user_id: UUID,
    device_type: str,
    device_os: str,
    app_version: str | None = None,
    parent_id: UUID | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    cur = await conn.execute(
        CREATE_SESSION,
        (token_hash, user_id, parent_id, expires_at, device_type, device_os, app_version),
    )
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def sessions_of_user(
    conn: AsyncConnection[Any], user_id: UUID, now: datetime
) -> list[dict[str, Any]]:
    cur = await conn.execute(SESSIONS_OF_USER, (user_id, now))
    return await cur.fetchall()


async def session_by_id(conn: AsyncConnection[Any], session_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(SESSION_BY_ID, (session_id,))
    return await cur.fetchone()


async def delete_session(conn: AsyncConnection[Any], session_id: UUID) -> None:
    cur = await conn.execute(DELETE_SESSION, (session_id,))
    for row in await cur.fetchall():  # child sessions go with it (same user)
        await publish_credentials_changed(conn, row["userId"])


async def delete_other_sessions(
    conn: AsyncConnection[Any], user_id: UUID, keep: UUID | None
) -> None:
    await conn.execute(DELETE_OTHER_SESSIONS, (user_id, keep, keep))
    await publish_credentials_changed(conn, user_id)


async def set_pin_expires(
    conn: AsyncConnection[Any], session_id: UUID, expires_at: datetime | None
) -> None:
    cur = await conn.execute(SET_PIN_EXPIRES, (expires_at, session_id))
    for row in await cur.fetchall():
        await publish_credentials_changed(conn, row["userId"])


async def lock_all_sessions(conn: AsyncConnection[Any], user_id: UUID) -> None:
    await conn.execute(LOCK_ALL_SESSIONS, (user_id,))
    await publish_credentials_changed(conn, user_id)


async def set_pending_sync_reset(
    conn: AsyncConnection[Any], session_id: UUID, value: bool
) -> dict[str, Any]:
    cur = await conn.execute(SET_PENDING_SYNC_RESET, (value, session_id))
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    await publish_credentials_changed(conn, row["userId"])
    return row
