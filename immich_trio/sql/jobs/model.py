"""The job table's records and wake-ups: ``Job`` as the dispatcher hands it out, and the
NOTIFY that tells every process's dispatcher a queue has claimable jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from psycopg import AsyncConnection

from immich_trio.jobs.names import ASSET_JOBS

NOTIFY_CHANNEL = "immich_trio_jobs"
"""Channel notified (payload: the queue name) when jobs become claimable."""

DEFAULT_MAX_ATTEMPTS = 3
SEARCH_LIMIT = 1000
"""``GET /api/queues/{name}/jobs`` returns at most this many jobs, as Immich does."""

STATUSES = ("waiting", "active", "failed")
COUNT_KEYS = ("active", "completed", "failed", "delayed", "waiting", "paused")
LEASE_EXPIRED_ERROR = "The job's lease expired too many times (the worker running it stopped)"

Conn = AsyncConnection[Any]


@attrs.frozen(kw_only=True)
class Job:
    """A claimed job as the dispatcher hands it to an actor.

    ``attempt`` is the number of this run (1 for the first) and doubles as the fencing
    token of the lease: results of an older run of the same job are refused.
    """

    id: int
    queue: str
    name: str
    data: Mapping[str, Any]
    attempt: int
    max_attempts: int
    created_at: datetime


def job_of_row(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"],
        queue=row["queue"],
        name=row["name"],
        data=row["data"] or {},
        attempt=row["attempts"],
        max_attempts=row["max_attempts"],
        created_at=row["created_at"],
    )


def asset_id_of(name: str, data: Mapping[str, Any]) -> str | None:
    if name in ASSET_JOBS and isinstance(data.get("id"), str):
        return str(data["id"])
    return None



NOTIFY = "SELECT pg_notify(%s, %s)"


async def notify(conn: Conn, queue: str) -> None:
    """Wake dispatchers for ``queue``; inside a transaction this happens at commit."""
    await conn.execute(NOTIFY, (NOTIFY_CHANNEL, queue))
