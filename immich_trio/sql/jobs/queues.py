"""Counts and commands of ``/api/jobs`` and ``/api/queues`` (and the status tree): depths per
queue, pause and resume, empty, clear failed, search.

``queue_counts`` without ``now`` uses the database's ``now()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from immich_trio.jobs.names import QueueName
from immich_trio.sql.jobs.model import (
    SEARCH_LIMIT,
    Conn,
    notify,
)

# -- counts and commands (/api/jobs, /api/queues, status tree) --------------------------

COUNTS = """
SELECT queue,
       count(*) FILTER (WHERE status = 'active') AS active,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'waiting' AND run_after > t.now) AS delayed,
       count(*) FILTER (WHERE status = 'waiting' AND (run_after IS NULL OR run_after <= t.now)) AS ready
FROM immich_trio.job, (SELECT coalesce(%(now)s::timestamptz, now()) AS now) t
GROUP BY queue
"""
PAUSED = "SELECT name FROM immich_trio.queue WHERE is_paused"


async def paused_queues(conn: Conn) -> set[str]:
    cur = await conn.execute(PAUSED)
    return {row["name"] for row in await cur.fetchall()}


async def queue_counts(conn: Conn, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """BullMQ-style counts for every queue, in enum order.

    ``waiting`` jobs of a paused queue count as ``paused``; waiting jobs with a future
    ``run_after`` are ``delayed``; ``completed`` is 0 (completed jobs are deleted).
    """
    cur = await conn.execute(COUNTS, {"now": now})
    rows = {row["queue"]: row for row in await cur.fetchall()}
    paused = await paused_queues(conn)
    out: dict[str, dict[str, int]] = {}
    for queue in QueueName:
        row = rows.get(queue.value)
        ready = int(row["ready"]) if row else 0
        is_paused = queue.value in paused
        out[queue.value] = {
            "active": int(row["active"]) if row else 0,
            "completed": 0,
            "failed": int(row["failed"]) if row else 0,
            "delayed": int(row["delayed"]) if row else 0,
            "waiting": 0 if is_paused else ready,
            "paused": ready if is_paused else 0,
        }
    return out


SET_PAUSED = """
INSERT INTO immich_trio.queue (name, is_paused) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET is_paused = EXCLUDED.is_paused
"""


async def set_paused(conn: Conn, queue: str, paused: bool) -> None:
    """Pause or resume ``queue`` for every process; resuming wakes the dispatchers."""
    await conn.execute(SET_PAUSED, (queue, paused))
    if not paused:
        await notify(conn, queue)


EMPTY = """
DELETE FROM immich_trio.job
WHERE queue = %(queue)s AND status = 'waiting'
  AND (run_after IS NULL OR run_after <= coalesce(%(now)s::timestamptz, now()))
"""
CLEAR_FAILED = "DELETE FROM immich_trio.job WHERE queue = %s AND status = 'failed'"


async def empty(conn: Conn, queue: str, now: datetime | None = None) -> int:
    """Drop the waiting jobs of ``queue`` (BullMQ ``drain``: delayed ones stay)."""
    cur = await conn.execute(EMPTY, {"queue": queue, "now": now})
    return cur.rowcount


async def clear_failed(conn: Conn, queue: str) -> int:
    cur = await conn.execute(CLEAR_FAILED, (queue,))
    return cur.rowcount


SEARCH = """
SELECT j.id, j.name, j.data, j.created_at,
       CASE
         WHEN j.status <> 'waiting' THEN j.status
         WHEN j.run_after > t.now THEN 'delayed'
         WHEN EXISTS (SELECT 1 FROM immich_trio.queue q WHERE q.name = j.queue AND q.is_paused)
           THEN 'paused'
         ELSE 'waiting'
       END AS state
FROM immich_trio.job j, (SELECT coalesce(%(now)s::timestamptz, now()) AS now) t
WHERE j.queue = %(queue)s
"""


async def search(
    conn: Conn,
    queue: str,
    states: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[dict[str, Any]]:
    """Jobs of ``queue`` in the given BullMQ states (all if None), oldest first."""
    wanted = list(states) if states is not None else None
    query = (
        f"SELECT * FROM ({SEARCH}) s"
        " WHERE (%(states)s::text[] IS NULL OR s.state = ANY(%(states)s::text[]))"
        " ORDER BY s.id LIMIT %(limit)s"
    )
    cur = await conn.execute(query, {"queue": queue, "now": now, "states": wanted, "limit": limit})
    return list(await cur.fetchall())


FAILED_FOR_ASSET = """
SELECT id, queue, name, data, attempts, error, updated_at
FROM immich_trio.job WHERE "assetId" = %s AND status = 'failed' ORDER BY id
"""


async def failed_for_asset(conn: Conn, asset_id: str) -> list[dict[str, Any]]:
    """Failed jobs of one asset, with their errors."""
    cur = await conn.execute(FAILED_FOR_ASSET, (asset_id,))
    return list(await cur.fetchall())
