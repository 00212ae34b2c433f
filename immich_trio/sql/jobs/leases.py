"""The dispatcher's side of the job table: claim under a lease, renew, give back, and record
the outcome (finish, or retry with backoff, or fail for good).

Every time written here is passed in (``now``, ``lease_until``...) from the dispatcher's
injected clock, so lease and retry timing follow the Trio clock in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from immich_trio.sql.jobs.model import (
    LEASE_EXPIRED_ERROR,
    Conn,
    Job,
    job_of_row,
    notify,
)

# -- the dispatcher's side -------------------------------------------------------------

FAIL_EXPIRED = """
UPDATE immich_trio.job
SET status = 'failed', error = %(error)s, lease_owner = NULL, lease_until = NULL, updated_at = %(now)s
WHERE queue = %(queue)s AND status = 'active' AND lease_until < %(now)s AND attempts >= max_attempts
"""
CLAIM = """
UPDATE immich_trio.job j
SET status = 'active', attempts = j.attempts + 1, lease_owner = %(owner)s,
    lease_until = %(lease_until)s, updated_at = %(now)s
WHERE j.id IN (
    SELECT id FROM immich_trio.job
    WHERE queue = %(queue)s
      AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))
      AND ((status = 'waiting' AND (run_after IS NULL OR run_after <= %(now)s))
           OR (status = 'active' AND lease_until < %(now)s))
      AND NOT EXISTS (SELECT 1 FROM immich_trio.queue q WHERE q.name = %(queue)s AND q.is_paused)
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING j.id, j.queue, j.name, j.data, j.attempts, j.max_attempts, j.created_at
"""


async def claim(
    conn: Conn,
    *,
    queue: str,
    limit: int,
    owner: str,
    now: datetime,
    lease_until: datetime,
    names: Sequence[str] | None = None,
) -> list[Job]:
    """Take up to ``limit`` runnable jobs of ``queue`` (of ``names`` only, if given).

    Runnable: waiting and due, or active under a lease that expired (its process died).
    An expired job that already used all its attempts is marked failed instead. Nothing
    is claimed while the queue is paused. Use in autocommit mode (each statement commits).
    """
    if limit <= 0:
        return []
    await conn.execute(FAIL_EXPIRED, {"queue": queue, "now": now, "error": LEASE_EXPIRED_ERROR})
    cur = await conn.execute(
        CLAIM,
        {
            "queue": queue,
            "names": list(names) if names is not None else None,
            "limit": limit,
            "owner": owner,
            "now": now,
            "lease_until": lease_until,
        },
    )
    jobs = [job_of_row(row) for row in await cur.fetchall()]
    jobs.sort(key=lambda job: job.id)
    return jobs


_LEASES = "(id, attempts) IN (SELECT * FROM unnest(%(ids)s::bigint[], %(attempts)s::int[]))"
RENEW = f"""
UPDATE immich_trio.job SET lease_until = %(until)s
WHERE status = 'active' AND lease_owner = %(owner)s AND {_LEASES}
RETURNING id
"""
RELEASE = f"""
UPDATE immich_trio.job
SET status = 'waiting', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL,
    updated_at = %(now)s
WHERE status = 'active' AND lease_owner = %(owner)s AND {_LEASES}
RETURNING queue
"""


def _lease_params(leases: Iterable[tuple[int, int]]) -> dict[str, list[int]]:
    pairs = list(leases)
    return {"ids": [job_id for job_id, _ in pairs], "attempts": [attempt for _, attempt in pairs]}


async def renew(
    conn: Conn, *, owner: str, leases: Iterable[tuple[int, int]], until: datetime
) -> set[int]:
    """Extend the leases ``(job id, attempt)`` still held by ``owner``; return their ids."""
    params = _lease_params(leases)
    if not params["ids"]:
        return set()
    cur = await conn.execute(RENEW, {**params, "owner": owner, "until": until})
    return {row["id"] for row in await cur.fetchall()}


async def release(
    conn: Conn, *, owner: str, leases: Iterable[tuple[int, int]], now: datetime
) -> int:
    """Give jobs back unfinished (graceful shutdown): waiting again, the attempt not counted."""
    params = _lease_params(leases)
    if not params["ids"]:
        return 0
    cur = await conn.execute(RELEASE, {**params, "owner": owner, "now": now})
    queues = {row["queue"] for row in await cur.fetchall()}
    for queue in queues:
        await notify(conn, queue)
    return cur.rowcount


FINISH = """
DELETE FROM immich_trio.job
WHERE id = %(id)s AND attempts = %(attempt)s AND lease_owner = %(owner)s AND status = 'active'
"""


async def finish(conn: Conn, *, job_id: int, attempt: int, owner: str) -> bool:
    """Delete a completed job if this run still holds its lease (row locked until commit).

    Run it first in the transaction that applies the job's result: False means the lease
    was lost and the transaction must be rolled back.
    """
    cur = await conn.execute(FINISH, {"id": job_id, "attempt": attempt, "owner": owner})
    return cur.rowcount == 1


RETRY_OR_FAIL = """
UPDATE immich_trio.job
SET status = CASE WHEN attempts >= max_attempts OR NOT %(retry)s THEN 'failed' ELSE 'waiting' END,
    run_after = CASE WHEN attempts >= max_attempts OR NOT %(retry)s THEN run_after
                     ELSE %(retry_at)s END,
    error = %(error)s, lease_owner = NULL, lease_until = NULL, updated_at = %(now)s
WHERE id = %(id)s AND attempts = %(attempt)s AND lease_owner = %(owner)s AND status = 'active'
RETURNING status
"""


async def retry_or_fail(
    conn: Conn,
    *,
    job_id: int,
    attempt: int,
    owner: str,
    error: str,
    retry_at: datetime,
    now: datetime,
    retry: bool = True,
) -> str | None:
    """Record a failed run: waiting until ``retry_at``, or ``failed`` after the last attempt
    (or at once when ``retry`` is False: a deterministic failure would only fail again).

    Returns the new status, or None if this run no longer held the lease.
    """
    cur = await conn.execute(
        RETRY_OR_FAIL,
        {
            "id": job_id,
            "attempt": attempt,
            "owner": owner,
            "error": error,
            "retry_at": retry_at,
            "now": now,
            "retry": retry,
        },
    )
    row = await cur.fetchone()
    return None if row is None else str(row["status"])
