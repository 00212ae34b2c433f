"""Key/value metadata of assets (``asset_metadata``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]


METADATA = """
SELECT "assetId", key, value, "updatedAt" FROM asset_metadata WHERE "assetId" = %s ORDER BY key
"""
METADATA_BY_KEY = """
SELECT "assetId", key, value, "updatedAt" FROM asset_metadata WHERE "assetId" = %s AND key = %s
"""
UPSERT_METADATA = """
INSERT INTO asset_metadata ("assetId", key, value) VALUES (%s, %s, %s)
ON CONFLICT ("assetId", key) DO UPDATE SET value = EXCLUDED.value
RETURNING "assetId", key, value, "updatedAt"
"""
DELETE_METADATA = 'DELETE FROM asset_metadata WHERE "assetId" = %s AND key = %s'


async def metadata(conn: Conn, asset_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(METADATA, (asset_id,))
    return await cur.fetchall()


async def metadata_by_key(conn: Conn, asset_id: UUID, key: str) -> dict[str, Any] | None:
    cur = await conn.execute(METADATA_BY_KEY, (asset_id, key))
    return await cur.fetchone()


async def upsert_metadata(
    conn: Conn, items: Iterable[tuple[UUID, str, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Upsert ``(assetId, key, value)`` items in order; the rows as stored."""
    out = []
    for asset_id, key, value in items:
        cur = await conn.execute(UPSERT_METADATA, (asset_id, key, Jsonb(dict(value))))
        row = await cur.fetchone()
        assert row is not None
        out.append(row)
    return out


async def delete_metadata(conn: Conn, items: Iterable[tuple[UUID, str]]) -> None:
    for asset_id, key in items:
        await conn.execute(DELETE_METADATA, (asset_id, key))
