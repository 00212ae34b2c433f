"""The ``system_metadata`` key/value store (jsonb values), read and written whole per key."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

ADMIN_ONBOARDING = "admin-onboarding"
REVERSE_GEOCODING_STATE = "reverse-geocoding-state"
VERSION_CHECK_STATE = "version-check-state"
SYSTEM_FLAGS = "system-flags"

GET = "SELECT value FROM system_metadata WHERE key = %s"
SET = """
INSERT INTO system_metadata (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
"""


async def get(conn: AsyncConnection[Any], key: str) -> Any:
    """The stored value of ``key``, or None when absent."""
    cur = await conn.execute(GET, (key,))
    row = await cur.fetchone()
    return row["value"] if row else None


async def set_value(conn: AsyncConnection[Any], key: str, value: Any) -> None:
    await conn.execute(SET, (key, Jsonb(value)))


async def delete(conn: AsyncConnection[Any], key: str) -> None:
    await conn.execute("DELETE FROM system_metadata WHERE key = %s", (key,))


async def lock_system_flags(conn: AsyncConnection[Any]) -> None:
    """Serialise read-modify-write of ``system-flags`` between processes (until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('immich-trio:system-flags'))")
