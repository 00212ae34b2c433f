"""Credential look-ups: sessions, API keys and shared links by the hash of their secret.

Sessions and API keys come back with the whole user row (``sql.users`` shape), so that a
request resolves its caller in one round trip and ``/users/me`` needs no second one.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed
from immich_trio.sql.users import USER_COLUMNS

_USER_COLUMNS = """
    u.id AS "userId", u.email, u.name, u."isAdmin", u."quotaSizeInBytes",
    u."quotaUsageInBytes", u."storageLabel", u."deletedAt" AS "userDeletedAt"
"""

# Credential columns are prefixed; the user's keep the names ``sql.users`` gives them.
SESSION_BY_TOKEN = f"""
SELECT s.id AS "session.id", s."updatedAt" AS "session.updatedAt", s."appVersion" AS "session.appVersion",
       s."pinExpiresAt" AS "session.pinExpiresAt", s."expiresAt" AS "session.expiresAt",
       s."deviceType" AS "session.deviceType", s."deviceOS" AS "session.deviceOS", {USER_COLUMNS}
FROM session s JOIN "user" u ON u.id = s."userId"
WHERE s.token = %s
"""

API_KEY_BY_HASH = f"""
SELECT k.id AS "key.id", k.name AS "key.name", k.permissions AS "key.permissions", {USER_COLUMNS}
FROM api_key k JOIN "user" u ON u.id = k."userId"
WHERE k.key = %s
"""

SHARED_LINK_BY_KEY = f"""
SELECT l.*, {_USER_COLUMNS}
FROM shared_link l JOIN "user" u ON u.id = l."userId"
WHERE l.key = %s
"""

SHARED_LINK_BY_SLUG = f"""
SELECT l.*, {_USER_COLUMNS}
FROM shared_link l JOIN "user" u ON u.id = l."userId"
WHERE l.slug = %s
"""

TOUCH_SESSION = """
UPDATE session SET "updatedAt" = now(), "appVersion" = %s, "deviceType" = %s, "deviceOS" = %s
WHERE id = %s RETURNING "userId"
"""


def _split(row: dict[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    own = {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
    user = {k: v for k, v in row.items() if not k.startswith(prefix)}
    return own, user


async def session_by_token(
    conn: AsyncConnection[Any], token_hash: bytes
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(session, user row) of a token hash, deleted users included (the caller checks)."""
    cur = await conn.execute(SESSION_BY_TOKEN, (token_hash,))
    row = await cur.fetchone()
    return None if row is None else _split(row, "session.")


async def api_key_by_hash(
    conn: AsyncConnection[Any], key_hash: bytes
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(api key, user row) of a key hash, deleted users included (the caller checks)."""
    cur = await conn.execute(API_KEY_BY_HASH, (key_hash,))
    row = await cur.fetchone()
    return None if row is None else _split(row, "key.")


async def shared_link_by_key(conn: AsyncConnection[Any], key: bytes) -> dict[str, Any] | None:
    cur = await conn.execute(SHARED_LINK_BY_KEY, (key,))
    return await cur.fetchone()


async def shared_link_by_slug(conn: AsyncConnection[Any], slug: str) -> dict[str, Any] | None:
    cur = await conn.execute(SHARED_LINK_BY_SLUG, (slug,))
    return await cur.fetchone()


async def touch_session(
    conn: AsyncConnection[Any],
    session_id: Any,
    app_version: str | None,
    device_type: str,
    device_os: str,
) -> None:
    cur = await conn.execute(TOUCH_SESSION, (app_version, device_type, device_os, session_id))
    for row in await cur.fetchall():
        await publish_credentials_changed(conn, row["userId"])
