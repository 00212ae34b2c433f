"""Queries of the job table, by sub-concern:

- ``model``: the ``Job`` record and the NOTIFY that wakes dispatchers;
- ``enqueue``: enqueue inside the caller's transaction, held jobs and their release;
- ``leases``: the dispatcher's claim, renew, give back, finish, retry;
- ``queues``: counts and commands of ``/api/jobs`` and ``/api/queues``.

Callers import this package (``from immich_trio.sql import jobs``); the names below are its API.
"""

from __future__ import annotations

from immich_trio.sql.jobs.enqueue import (
    HELD_UNTIL,
    INSERT_JOB,
    enqueue,
    enqueue_for_assets,
    enqueue_job,
    enqueue_missing_metadata,
    enqueue_missing_thumbnails,
    enqueue_selected,
    held_assets,
    release_held,
)
from immich_trio.sql.jobs.leases import CLAIM, claim, finish, release, renew, retry_or_fail
from immich_trio.sql.jobs.model import (
    COUNT_KEYS,
    DEFAULT_MAX_ATTEMPTS,
    LEASE_EXPIRED_ERROR,
    NOTIFY,
    NOTIFY_CHANNEL,
    SEARCH_LIMIT,
    STATUSES,
    Conn,
    Job,
    notify,
)
from immich_trio.sql.jobs.queues import (
    clear_failed,
    empty,
    failed_for_asset,
    paused_queues,
    queue_counts,
    search,
    set_paused,
)

__all__ = [
    "CLAIM",
    "COUNT_KEYS",
    "DEFAULT_MAX_ATTEMPTS",
    "HELD_UNTIL",
    "INSERT_JOB",
    "LEASE_EXPIRED_ERROR",
    "NOTIFY",
    "NOTIFY_CHANNEL",
    "SEARCH_LIMIT",
    "STATUSES",
    "Conn",
    "Job",
    "claim",
    "clear_failed",
    "empty",
    "enqueue",
    "enqueue_for_assets",
    "enqueue_job",
    "enqueue_missing_metadata",
    "enqueue_missing_thumbnails",
    "enqueue_selected",
    "failed_for_asset",
    "finish",
    "held_assets",
    "notify",
    "paused_queues",
    "queue_counts",
    "release",
    "release_held",
    "renew",
    "retry_or_fail",
    "search",
    "set_paused",
]
