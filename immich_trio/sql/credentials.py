"""Credential look-ups: sessions, API keys and shared links by the hash of their secret."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

_USER_COLUMNS = """
    u.id AS "userId", u.email, u.name, u."isAdmin", u."quotaSizeInBytes",
    u."quotaUsageInBytes", u."storageLabel", u."deletedAt" AS "userDeletedAt"
"""

SESSION_BY_TOKEN = f"""
SELECT s.id, s."updatedAt", s."appVersion", s."pinExpiresAt", s."expiresAt",
       s."deviceType", s."deviceOS", {_USER_COLUMNS}
FROM session s JOIN "user" u ON u.id = s."userId"
WHERE s.token = %s
"""

API_KEY_BY_HASH = f"""
SELECT k.id, k.name, k.permissions, {_USER_COLUMNS}
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
WHERE id = %s
"""


async def session_by_token(conn: AsyncConnection[Any], token_hash: bytes) -> dict[str, Any] | None:
    cur = await conn.execute(SESSION_BY_TOKEN, (token_hash,))
    return await cur.fetchone()


async def api_key_by_hash(conn: AsyncConnection[Any], key_hash: bytes) -> dict[str, Any] | None:
    cur = await conn.execute(API_KEY_BY_HASH, (key_hash,))
    return await cur.fetchone()


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
    await conn.execute(TOUCH_SESSION, (app_version, device_type, device_os, session_id))
