"""Immich's maintenance-mode state (``system_metadata`` key ``maintenance-mode``):
``{"isMaintenanceMode": bool, "secret"?: str, "action"?: {"action": ..., ...}}``.

Every change is published on ``immich_trio_maintenance`` inside the writer's transaction,
so each process's request edge learns it at commit."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql import system_metadata

KEY = "maintenance-mode"
CHANNEL = "immich_trio_maintenance"


async def get_state(conn: AsyncConnection[Any]) -> dict[str, Any]:
    value = await system_metadata.get(conn, KEY)
    return value if isinstance(value, dict) else {"isMaintenanceMode": False}


async def set_state(conn: AsyncConnection[Any], state: dict[str, Any]) -> None:
    """Store ``state`` and tell every process (call inside a transaction)."""
    await system_metadata.set_value(conn, KEY, state)
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "1" if state.get("isMaintenanceMode") else "0"))
