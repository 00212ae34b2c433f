"""API key rows of one user: the secret is stored only as its sha256."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

_COLUMNS = """id, name, "createdAt", "updatedAt", permissions"""

CREATE_API_KEY = f"""
INSERT INTO api_key (key, name, "userId", permissions) VALUES (%s, %s, %s, %s)
RETURNING {_COLUMNS}
"""

API_KEYS_OF_USER = f"""
SELECT {_COLUMNS} FROM api_key WHERE "userId" = %s ORDER BY "createdAt" DESC
"""

API_KEY_OF_USER = f"""SELECT {_COLUMNS} FROM api_key WHERE id = %s AND "userId" = %s"""

# NULL leaves a column as it is (the field was absent from the update).
UPDATE_API_KEY = f"""
UPDATE api_key SET name = COALESCE(%s, name), permissions = COALESCE(%s, permissions)
WHERE id = %s AND "userId" = %s
RETURNING {_COLUMNS}
"""

DELETE_API_KEY = """DELETE FROM api_key WHERE id = %s AND "userId" = %s"""


async def create_api_key(
    conn: AsyncConnection[Any], *, key_hash: bytes, name: str, user_id: UUID, permissions: list[str]
) -> dict[str, Any]:
    cur = await conn.execute(CREATE_API_KEY, (key_hash, name, user_id, permissions))
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def api_keys_of_user(conn: AsyncConnection[Any], user_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(API_KEYS_OF_USER, (user_id,))
    return await cur.fetchall()


async def api_key_of_user(
    conn: AsyncConnection[Any], key_id: UUID, user_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(API_KEY_OF_USER, (key_id, user_id))
    return await cur.fetchone()


async def update_api_key(
    conn: AsyncConnection[Any],
    key_id: UUID,
    user_id: UUID,
    *,
    name: str | None,
    permissions: Sequence[str] | None,
) -> dict[str, Any] | None:
    granted = list(permissions) if permissions is not None else None
    cur = await conn.execute(UPDATE_API_KEY, (name, granted, key_id, user_id))
    row: dict[str, Any] | None = await cur.fetchone()
    await publish_credentials_changed(conn, user_id)
    return row


async def delete_api_key(conn: AsyncConnection[Any], key_id: UUID, user_id: UUID) -> None:
    await conn.execute(DELETE_API_KEY, (key_id, user_id))
    await publish_credentials_changed(conn, user_id)
