"""The job dispatcher, by sub-concern: ``messages`` (what it exchanges with the actors it
feeds, its settings and statistics), ``actor`` (claiming, leases, wake-ups), ``outcomes``
(recording results, retries, failures, give-backs)."""

from __future__ import annotations

from immich_trio.actors.dispatcher.actor import Dispatcher
from immich_trio.actors.dispatcher.messages import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_STATS_INTERVAL,
    ApplyResult,
    DispatcherStatistics,
    JobResult,
    JobStatus,
    QueueStatistics,
    RunJob,
    SetConcurrency,
    WallClock,
    default_owner,
    trio_wall_clock,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_LEASE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_STATS_INTERVAL",
    "ApplyResult",
    "Dispatcher",
    "DispatcherStatistics",
    "JobResult",
    "JobStatus",
    "QueueStatistics",
    "RunJob",
    "SetConcurrency",
    "WallClock",
    "default_owner",
    "trio_wall_clock",
]
