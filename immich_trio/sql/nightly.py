"""The nightly run's record: which scheduled instant was last queued, so that two processes
(or a restart at the start time) never queue the same night twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql import system_metadata

STATE_KEY = "immich-trio-nightly-tasks-state"
"""Our own ``system_metadata`` key (Immich keeps no such record: it holds a lock instead)."""

LOCK = "SELECT pg_advisory_xact_lock(hashtext('immich-trio:nightly-tasks'))"


async def claim_run(conn: AsyncConnection[Any], due: datetime, key: str = STATE_KEY) -> bool:
    """In the caller's transaction: True, recording ``due`` as the last run, unless a run at
    ``due`` or later was already recorded (then the caller queues nothing). ``key`` names
    the timer (``cron_key`` for the cron-scheduled checks)."""
    await conn.execute(LOCK)
    state = await system_metadata.get(conn, key)
    last = state.get("lastRunAt") if isinstance(state, dict) else None
    if isinstance(last, str):
        try:
            if datetime.fromisoformat(last) >= due:
                return False
        except ValueError:
            pass
    await system_metadata.set_value(conn, key, {"lastRunAt": due.isoformat()})
    return True


def cron_key(name: str) -> str:
    """The ``system_metadata`` key recording the last run of the cron timer ``name``."""
    return f"immich-trio-cron-{name}-state"


async def last_run(conn: AsyncConnection[Any]) -> datetime | None:
    state = await system_metadata.get(conn, STATE_KEY)
    last = state.get("lastRunAt") if isinstance(state, dict) else None
    return datetime.fromisoformat(last) if isinstance(last, str) else None
