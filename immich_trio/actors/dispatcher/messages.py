"""What the dispatcher and the actors it feeds exchange (``RunJob``, ``JobResult``), its
settings and statistics, and the wall clock it writes job times with."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.reactor import ActorStatistics, Backoff, ReplyTo
from immich_trio.sql.jobs import Job

DEFAULT_LEASE = 60.0
"""Seconds a claimed job stays ours without renewal; renewed every third of it."""
DEFAULT_POLL_INTERVAL = 1.0
"""Fallback wake-up when no notification arrives (lost connection, delayed retries)."""
DEFAULT_STATS_INTERVAL = 5.0
"""How often the queue depths shown in the status tree are refreshed."""
DEFAULT_CONCURRENCY = 1
DEFAULT_RETRY_BACKOFF = Backoff(initial=10.0, factor=2.0, cap=3600.0)
"""Delay before retry ``n`` (0-based) of a failed job."""
LISTEN_RETRY_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=30.0)
RELEASE_TIMEOUT = 5.0
"""Graceful stop: how long giving in-flight jobs back may take."""

JobStatus = Literal["success", "skipped", "failed"]
ApplyResult = Callable[[AsyncConnection[Any]], Awaitable[None]]
WallClock = Callable[[], datetime]


@attrs.frozen(kw_only=True)
class JobResult:
    """A target's answer to ``RunJob``.

    ``apply`` holds the job's database writes and follow-up ``enqueue``s; the dispatcher
    runs it in the transaction that deletes the job, only if the lease is still ours, so
    it is applied at most once. ``skipped`` counts as success (follow-ups still apply).
    ``retry=False`` marks a deterministic failure (a file no decoder can read, an image over
    the memory budget): the job fails for good at once instead of running again.
    """

    status: JobStatus
    error: str | None = None
    apply: ApplyResult | None = None
    retry: bool = True


@attrs.frozen(kw_only=True)
class RunJob:
    """Run ``job`` and answer on ``reply_to`` (a raise counts as ``failed``)."""

    job: Job
    reply_to: ReplyTo[JobResult]


@attrs.frozen(kw_only=True)
class SetConcurrency:
    queue: str
    concurrency: int


@attrs.frozen(kw_only=True)
class QueueStatistics:
    queue: str
    concurrency: int
    in_flight: int
    depth: Mapping[str, int]


@attrs.frozen(kw_only=True)
class DispatcherStatistics(ActorStatistics):
    owner: str
    queues: tuple[QueueStatistics, ...]
    claimed: int
    completed: int
    retried: int
    failed_jobs: int
    released: int
    lost: int
    database_errors: int
    claim_rounds: int
    claim_queries: int
    renewals: int
    listening: bool


def trio_wall_clock(base: datetime | None = None) -> WallClock:
    """Wall-clock dates that advance with the Trio clock (so ``MockClock`` drives them)."""
    start = base if base is not None else datetime.now(UTC)
    t0 = trio.current_time()
    return lambda: start + timedelta(seconds=trio.current_time() - t0)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
