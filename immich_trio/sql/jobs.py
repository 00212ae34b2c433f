"""Queries of the job table: enqueue (inside the caller's transaction), claim under a lease,
renew, finish, retry, and the counts and commands of ``/api/jobs`` and ``/api/queues``.

Every time written by the dispatcher is passed in (``now``, ``lease_until``...) from its
injected clock, so lease and retry timing follow the Trio clock in tests; only
``created_at``/``updated_at`` defaults and ``queue_counts`` without ``now`` use the
database's ``now()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from immich_trio.jobs.names import ASSET_JOBS, QUEUE_OF, JobName, QueueName

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


def _job(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"],
        queue=row["queue"],
        name=row["name"],
        data=row["data"] or {},
        attempt=row["attempts"],
        max_attempts=row["max_attempts"],
        created_at=row["created_at"],
    )


def _asset_id(name: str, data: Mapping[str, Any]) -> str | None:
    if name in ASSET_JOBS and isinstance(data.get("id"), str):
        return str(data["id"])
    return None


# -- enqueue ---------------------------------------------------------------------------

INSERT_JOB = """
INSERT INTO immich_trio.job (queue, name, data, "assetId", dedupe_key, run_after, max_attempts)
VALUES (%(queue)s, %(name)s, %(data)s, %(asset_id)s, %(dedupe_key)s, %(run_after)s, %(max_attempts)s)
ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('waiting', 'active')
DO NOTHING
RETURNING id
"""
NOTIFY = "SELECT pg_notify(%s, %s)"


async def notify(conn: Conn, queue: str) -> None:
    """Wake dispatchers for ``queue``; inside a transaction this happens at commit."""
    await conn.execute(NOTIFY, (NOTIFY_CHANNEL, queue))


async def enqueue(
    conn: Conn,
    queue: str,
    name: str,
    data: Mapping[str, Any],
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job in the caller's transaction; return its id, or None if deduplicated.

    ``dedupe_key`` makes the job a no-op while another job of the queue with that key is
    waiting or running (BullMQ's ``jobId``). Dispatchers are notified at commit, so a
    rolled-back transaction leaves neither a job nor a wake-up.
    """
    expected = QUEUE_OF.get(JobName(name))
    if expected is not None and expected.value != queue:
        raise ValueError(f"job {name} runs on queue {expected.value}, not {queue}")
    cur = await conn.execute(
        INSERT_JOB,
        {
            "queue": queue,
            "name": name,
            "data": Jsonb(dict(data)),
            "asset_id": _asset_id(name, data),
            "dedupe_key": dedupe_key,
            "run_after": run_after,
            "max_attempts": max_attempts,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await notify(conn, queue)
    return int(row["id"])


async def enqueue_job(
    conn: Conn, name: JobName, data: Mapping[str, Any], **kwargs: Any
) -> int | None:
    """``enqueue`` on the queue that runs ``name``."""
    return await enqueue(conn, QUEUE_OF[name].value, name.value, data, **kwargs)


# Set-based expansions of QueueAll jobs: one INSERT … SELECT, however large the library.
_INSERT_ASSET_JOBS = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a."deletedAt" IS NULL AND ({condition})
ORDER BY a."createdAt", a.id
"""
_MISSING_THUMBNAILS = """
    %(force)s OR (a.visibility <> 'hidden' AND (
        a.thumbhash IS NULL
        OR NOT EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id
                       AND f.type = 'preview' AND NOT f."isEdited")
        OR NOT EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id
                       AND f.type = 'thumbnail' AND NOT f."isEdited")))
"""
_MISSING_METADATA = """
    %(force)s OR NOT EXISTS (SELECT 1 FROM asset_job_status s
                             WHERE s."assetId" = a.id AND s."metadataExtractedAt" IS NOT NULL)
"""
_INSERT_PERSON_THUMBNAILS = """
INSERT INTO immich_trio.job (queue, name, data)
SELECT %(queue)s, %(name)s, jsonb_build_object('id', p.id::text)
FROM person p
WHERE p."faceAssetId" IS NOT NULL AND (%(force)s OR p."thumbnailPath" = '')
ORDER BY p."createdAt", p.id
"""


async def _insert_asset_jobs(conn: Conn, name: JobName, condition: str, force: bool) -> int:
    queue = QUEUE_OF[name].value
    cur = await conn.execute(
        _INSERT_ASSET_JOBS.format(condition=condition),
        {"queue": queue, "name": name.value, "force": force},
    )
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount


async def enqueue_missing_thumbnails(conn: Conn, *, force: bool) -> int:
    """AssetGenerateThumbnails for assets without preview, thumbnail or thumbhash (all if
    ``force``), and PersonGenerateThumbnail for people without a thumbnail."""
    count = await _insert_asset_jobs(
        conn, JobName.ASSET_GENERATE_THUMBNAILS, _MISSING_THUMBNAILS, force
    )
    cur = await conn.execute(
        _INSERT_PERSON_THUMBNAILS,
        {
            "queue": QueueName.THUMBNAIL_GENERATION.value,
            "name": JobName.PERSON_GENERATE_THUMBNAIL.value,
            "force": force,
        },
    )
    if cur.rowcount:
        await notify(conn, QueueName.THUMBNAIL_GENERATION.value)
    return count + cur.rowcount


async def enqueue_missing_metadata(conn: Conn, *, force: bool) -> int:
    """AssetExtractMetadata for assets never extracted (all if ``force``)."""
    return await _insert_asset_jobs(conn, JobName.ASSET_EXTRACT_METADATA, _MISSING_METADATA, force)


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
    jobs = [_job(row) for row in await cur.fetchall()]
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


# A job that must not run yet, until a later step releases it (e.g. an upload's first job
# until its file is in place). Far in the future rather than 'infinity': Python has no such date.
HELD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)

RELEASE_HELD = """
UPDATE immich_trio.job SET run_after = NULL, updated_at = now()
WHERE "assetId" = ANY(%(assets)s) AND status = 'waiting' AND run_after = %(held)s
RETURNING queue
"""
HELD_ASSETS = """
SELECT DISTINCT j."assetId", a."originalPath"
FROM immich_trio.job j JOIN asset a ON a.id = j."assetId"
WHERE j.status = 'waiting' AND j.run_after = %(held)s
"""


async def release_held(conn: Conn, asset_ids: Iterable[UUID | str]) -> int:
    """Let the held jobs of these assets run now (and wake the dispatchers at commit)."""
    cur = await conn.execute(RELEASE_HELD, {"assets": [str(a) for a in asset_ids], "held": HELD_UNTIL})
    queues = {row["queue"] for row in await cur.fetchall()}
    for queue in queues:
        await notify(conn, queue)
    return cur.rowcount


async def held_assets(conn: Conn) -> dict[str, str]:
    """``{assetId: originalPath}`` of assets that have held jobs."""
    cur = await conn.execute(HELD_ASSETS, {"held": HELD_UNTIL})
    return {str(row["assetId"]): str(row["originalPath"]) for row in await cur.fetchall()}


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
SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'waiting' END,
    run_after = CASE WHEN attempts >= max_attempts THEN run_after ELSE %(retry_at)s END,
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
) -> str | None:
    """Record a failed run: waiting until ``retry_at``, or ``failed`` after the last attempt.

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
        },
    )
    row = await cur.fetchone()
    return None if row is None else str(row["status"])


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
