"""OAuth's rows: users found by their provider subject, linking, OAuth sessions, back-channel logout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

# The login response's columns (as sql/authentication.LOGIN_USER) plus the OAuth subject.
_LOGIN_COLUMNS = """
    u.id, u.email, u.name, u."isAdmin", u."profileImagePath", u."shouldChangePassword",
    u."oauthId", COALESCE((m.value ->> 'isOnboarded')::boolean, false) AS "isOnboarded"
"""

LOGIN_USER_BY_OAUTH_ID = f"""
SELECT {_LOGIN_COLUMNS}
FROM "user" u LEFT JOIN user_metadata m ON m."userId" = u.id AND m.key = 'onboarding'
WHERE u."oauthId" = %s AND u."deletedAt" IS NULL
"""

LOGIN_USER_BY_EMAIL = f"""
SELECT {_LOGIN_COLUMNS}
FROM "user" u LEFT JOIN user_metadata m ON m."userId" = u.id AND m.key = 'onboarding'
WHERE u.email = %s AND u."deletedAt" IS NULL
"""

LOGIN_USER_BY_ID = f"""
SELECT {_LOGIN_COLUMNS}
FROM "user" u LEFT JOIN user_metadata m ON m."userId" = u.id AND m.key = 'onboarding'
WHERE u.id = %s
"""

CREATE_OAUTH_USER = """
INSERT INTO "user" (email, name, "oauthId", "quotaSizeInBytes", "storageLabel", "isAdmin")
VALUES (%(email)s, %(name)s, %(oauthId)s, %(quotaSizeInBytes)s, %(storageLabel)s, %(isAdmin)s)
RETURNING id
"""

SET_OAUTH_ID = """UPDATE "user" SET "oauthId" = %s WHERE id = %s"""

UNLINK_ALL = """UPDATE "user" SET "oauthId" = '' WHERE "oauthId" <> '' RETURNING id"""

CREATE_OAUTH_SESSION = """
INSERT INTO session (token, "userId", "deviceType", "deviceOS", "appVersion", "oauthSid", "oauthBearerToken")
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""

SET_SESSION_OAUTH = """
UPDATE session SET "oauthSid" = %s, "oauthBearerToken" = %s WHERE id = %s RETURNING "userId"
"""

SESSION_BEARER_TOKEN = """SELECT "oauthBearerToken" FROM session WHERE id = %s"""

# The session a provider names by ``sid``; without one, every session of the subject's user.
DELETE_OAUTH_SESSIONS = """
DELETE FROM session s
WHERE CASE WHEN %(sid)s::text IS NOT NULL THEN s."oauthSid" = %(sid)s
           ELSE s."userId" IN (SELECT u.id FROM "user" u WHERE u."oauthId" = %(sub)s AND %(sub)s <> '')
      END
RETURNING s.id, s."userId"
"""


async def login_user_by_oauth_id(
    conn: AsyncConnection[Any], oauth_id: str
) -> dict[str, Any] | None:
    cur = await conn.execute(LOGIN_USER_BY_OAUTH_ID, (oauth_id,))
    return await cur.fetchone()


async def login_user_by_email(conn: AsyncConnection[Any], email: str) -> dict[str, Any] | None:
    cur = await conn.execute(LOGIN_USER_BY_EMAIL, (email,))
    return await cur.fetchone()


async def login_user_by_id(conn: AsyncConnection[Any], user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(LOGIN_USER_BY_ID, (user_id,))
    return await cur.fetchone()


async def create_oauth_user(conn: AsyncConnection[Any], values: Mapping[str, Any]) -> UUID:
    """Insert a user registered by OAuth (no password); its id."""
    cur = await conn.execute(CREATE_OAUTH_USER, dict(values))
    row = await cur.fetchone()
    assert row is not None
    return row["id"]  # type: ignore[no-any-return]


async def set_oauth_id(conn: AsyncConnection[Any], user_id: UUID, oauth_id: str) -> None:
    """Link (a subject) or unlink (``''``) the user's OAuth account."""
    await conn.execute(SET_OAUTH_ID, (oauth_id, user_id))
    await publish_credentials_changed(conn, user_id)


async def unlink_all(conn: AsyncConnection[Any]) -> int:
    cur = await conn.execute(UNLINK_ALL)
    rows = await cur.fetchall()
    for row in rows:
        await publish_credentials_changed(conn, row["id"])
    return len(rows)


async def create_oauth_session(
    conn: AsyncConnection[Any],
    *,
    token_hash: bytes,
    user_id: UUID,
    device_type: str,
    device_os: str,
    app_version: str | None,
    oauth_sid: str | None,
    oauth_bearer_token: str | None,
) -> UUID:
    cur = await conn.execute(
        CREATE_OAUTH_SESSION,
        (token_hash, user_id, device_type, device_os, app_version, oauth_sid, oauth_bearer_token),
    )
    row = await cur.fetchone()
    assert row is not None
    return row["id"]  # type: ignore[no-any-return]


async def set_session_oauth(
    conn: AsyncConnection[Any], session_id: UUID, sid: str | None, bearer_token: str | None
) -> None:
    cur = await conn.execute(SET_SESSION_OAUTH, (sid, bearer_token, session_id))
    row = await cur.fetchone()
    if row is not None:
        await publish_credentials_changed(conn, row["userId"])


async def session_bearer_token(conn: AsyncConnection[Any], session_id: UUID) -> str | None:
    cur = await conn.execute(SESSION_BEARER_TOKEN, (session_id,))
    row = await cur.fetchone()
    return row["oauthBearerToken"] if row else None


async def delete_oauth_sessions(
    conn: AsyncConnection[Any], *, sid: str | None, sub: str | None
) -> list[UUID]:
    """End the sessions a back-channel logout names; their ids, for ``on_session_delete``."""
    cur = await conn.execute(DELETE_OAUTH_SESSIONS, {"sid": sid, "sub": sub or ""})
    rows = await cur.fetchall()
    for user_id in {row["userId"] for row in rows}:
        await publish_credentials_changed(conn, user_id)
    return [row["id"] for row in rows]
