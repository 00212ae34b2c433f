"""The scheduler: queues Immich's nightly jobs at ``nightlyTasks.startTime``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, time, tzinfo
from typing import Any

import attrs
import psycopg
import trio

from immich_trio import sysconfig
from immich_trio.actors.config_watch import following_config
from immich_trio.actors.dispatcher import WallClock
from immich_trio.actors.nightly_time import next_start, parse_start_time, server_zone
from immich_trio.jobs.names import JobName
from immich_trio.reactor import Backoff
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import nightly as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "scheduler"
MAX_SLEEP = 600.0
"""Seconds slept at most before the wall clock is read again (it may be set meanwhile)."""
RETRY = Backoff(initial=1.0, factor=2.0, cap=60.0)
"""A night whose jobs cannot be queued (database away) is tried again, never skipped."""

JobItem = tuple[JobName, Mapping[str, Any]]

DATABASE_CLEANUP: tuple[JobName, ...] = (
    JobName.ASSET_DELETE_CHECK,
    JobName.USER_DELETE_CHECK,
    JobName.PERSON_CLEANUP,
    JobName.MEMORY_CLEANUP,
    JobName.SESSION_CLEANUP,
    JobName.HLS_SESSION_CLEANUP,
    JobName.AUDIT_TABLE_CLEANUP,
)
"""``nightlyTasks.databaseCleanup`` (pipeline.md §2; all run on ``backgroundTask``)."""


def nightly_jobs(config: sysconfig.Config) -> list[JobItem]:
    """The jobs one night queues, by the ``nightlyTasks`` toggles, in Immich's order.

    ``clusterNewFaces`` queues ``FacialRecognitionQueueAll {force: false, nightly: true}``,
    which looks at the unassigned faces only when a face was detected since its last run.
    """
    tasks = config.get("nightlyTasks") or {}
    jobs: list[JobItem] = []
    if tasks.get("databaseCleanup", True):
        jobs.extend((name, {}) for name in DATABASE_CLEANUP)
    if tasks.get("generateMemories", True):
        jobs.append((JobName.MEMORY_GENERATE, {}))
    if tasks.get("syncQuotaUsage", True):
        jobs.append((JobName.USER_SYNC_USAGE, {}))
    if tasks.get("missingThumbnails", True):
        jobs.append((JobName.ASSET_GENERATE_THUMBNAILS_QUEUE_ALL, {"force": False}))
    if tasks.get("clusterNewFaces", True):
        jobs.append((JobName.FACIAL_RECOGNITION_QUEUE_ALL, {"force": False, "nightly": True}))
    return jobs


@attrs.frozen(kw_only=True)
class SchedulerStatistics:
    start_time: str
    zone: str
    next_run: datetime | None
    runs: int


class NightlyScheduler:
    """Owns the nightly timer; a supervised task (``run``), one per ``api`` process as in Immich.

    Sleeps on the Trio clock until the next start (``nightly_time.next_start`` over the
    injected wall clock, in ``zone``), then, in one transaction, records the night
    (``sql/nightly.py``: a night already recorded, by another process or before a restart,
    queues nothing) and queues ``nightly_jobs`` of the config as read at that moment. A saved
    config (``sysconfig.subscribe``) wakes it, so a new ``startTime`` counts from the next run.
    Started after today's start time (a restart), it waits for tomorrow's, as Immich's cron
    does. A database error retries the same night with backoff; nothing else ends the task.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        now: WallClock,
        zone: tzinfo | None = None,
        base: sysconfig.Config | None = None,
    ) -> None:
        self._pool = pool
        self._now = now
        self._zone = zone if zone is not None else server_zone()
        self._base = base
        self._start: time = parse_start_time(sysconfig.defaults()["nightlyTasks"]["startTime"])
        self._changed = trio.Event()
        self._next: datetime | None = None
        self._runs = 0

    def statistics(self) -> SchedulerStatistics:
        return SchedulerStatistics(
            start_time=self._start.strftime("%H:%M"), zone=str(self._zone), next_run=self._next,
            runs=self._runs,
        )

    def _on_config(self, config: sysconfig.Config) -> None:
        start = parse_start_time((config.get("nightlyTasks") or {}).get("startTime"))
        if start != self._start:
            self._start = start
            self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with following_config(self._pool, self._base, self._on_config, name="scheduler"):
            reference = self._now()
            self._changed = trio.Event()
            task_status.started()
            while True:
                due = next_start(reference, self._start, self._zone)
                self._next = due
                wait = (due - self._now()).total_seconds()
                if wait > 0:
                    with trio.move_on_after(min(wait, MAX_SLEEP)):
                        await self._changed.wait()
                    if self._changed.is_set():
                        self._changed = trio.Event()
                        reference = max(reference, self._now())
                    continue
                await self._run_night(due)
                reference = due

    async def _run_night(self, due: datetime) -> None:
        attempt = 0
        while True:
            try:
                await self._queue_night(due)
                return
            except (DatabaseUnavailable, psycopg.Error) as exc:
                delay = RETRY.delay(attempt)
                attempt += 1
                log.warning("scheduler: cannot queue the nightly jobs, retry in %.0fs: %s", delay, exc)
                await trio.sleep(delay)

    async def _queue_night(self, due: datetime) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            if not await q.claim_run(conn, due):
                log.info("scheduler: the nightly jobs of %s were already queued", due.isoformat())
                return
            config = await sysconfig.load(conn, self._base)
            jobs = nightly_jobs(config)
            for name, data in jobs:
                await jobs_q.enqueue_job(conn, name, data)
        self._runs += 1
        log.info("scheduler: queued the nightly jobs %s", ", ".join(name.value for name, _ in jobs))
