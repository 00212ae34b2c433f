"""The integrity checks' timers: each ``integrityChecks.<check>`` of the system config queues its
job at the instants of its own ``cronExpression`` (in the server's zone) while ``enabled``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

import attrs
import psycopg
import trio
from cronsim import CronSim, CronSimError

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import WallClock
from immich_trio.actors.nightly_time import server_zone
from immich_trio.jobs.names import JobName
from immich_trio.reactor import Backoff
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import nightly as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "integrity-schedule"
MAX_SLEEP = 600.0
"""Seconds slept at most before the wall clock is read again (it may be set meanwhile)."""
RETRY = Backoff(initial=1.0, factor=2.0, cap=60.0)

CHECKS: tuple[tuple[str, JobName], ...] = (
    ("missingFiles", JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL),
    ("untrackedFiles", JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL),
    ("checksumFiles", JobName.INTEGRITY_CHECKSUM_FILES),
)
"""Each check's config key and the job its timer queues (as the manual jobs queue them)."""


@attrs.frozen
class Timer:
    name: str
    job: JobName
    expression: str


def enabled_timers(config: sysconfig.Config) -> list[Timer]:
    """The checks that are enabled and have a valid cron expression."""
    checks = config.get("integrityChecks") or {}
    timers: list[Timer] = []
    for name, job in CHECKS:
        check = checks.get(name) or {}
        expression = check.get("cronExpression")
        if not check.get("enabled", True) or not isinstance(expression, str):
            continue
        try:
            CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            log.warning("integrityChecks.%s: invalid cron expression %r: %s", name, expression, exc)
            continue
        timers.append(Timer(name, job, expression))
    return timers


def next_due(timer: Timer, after: datetime, zone: tzinfo) -> datetime:
    """The first instant strictly after ``after`` matching the timer's expression in ``zone``."""
    return next(CronSim(timer.expression, after.astimezone(zone)))


class IntegritySchedule:
    """Owns the integrity checks' cron timers; a supervised task (``run``), beside the nightly
    scheduler, in every ``api`` process.

    Sleeps on the Trio clock until the earliest due instant of the enabled checks, then, in
    one transaction per check, records the instant (``sql/nightly.claim_run`` under the
    check's own key: another process, or a restart, queues nothing twice) and queues the
    check's job. A saved config (``sysconfig.subscribe``) wakes it: new expressions and
    toggles count from that moment. A database error retries the same instant with backoff.
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
        self._timers: list[Timer] = enabled_timers(sysconfig.defaults())
        self._changed = trio.Event()
        self.runs = 0

    def _on_config(self, config: sysconfig.Config) -> None:
        timers = enabled_timers(config)
        if timers != self._timers:
            self._timers = timers
            self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with self._pool.connection() as conn:
                self._on_config(await sysconfig.load(conn, self._base))
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("integrity schedule: cannot read the system config, using defaults: %s", exc)
        unsubscribe: Callable[[], None] = sysconfig.subscribe(self._on_config)
        try:
            start = self._now()
            after = {timer.name: start for timer in self._timers}
            self._changed = trio.Event()
            task_status.started()
            while True:
                dues = [(next_due(t, after.get(t.name, start), self._zone), t) for t in self._timers]
                due = min((d for d, _ in dues), default=None)
                wait = MAX_SLEEP if due is None else (due - self._now()).total_seconds()
                if wait > 0:
                    with trio.move_on_after(min(wait, MAX_SLEEP)):
                        await self._changed.wait()
                    if self._changed.is_set():
                        self._changed = trio.Event()
                        start = self._now()
                        after = {t.name: max(after.get(t.name, start), start) for t in self._timers}
                    continue
                for moment, timer in dues:
                    if moment == due:
                        await self._queue(timer, moment)
                        after[timer.name] = moment
        finally:
            unsubscribe()

    async def _queue(self, timer: Timer, due: datetime) -> None:
        attempt = 0
        while True:
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    if await q.claim_run(conn, due, q.cron_key(timer.name)):
                        await jobs_q.enqueue_job(conn, timer.job, {})
                        self.runs += 1
                        log.info("integrity schedule: queued %s", timer.job.value)
                return
            except (DatabaseUnavailable, psycopg.Error) as exc:
                delay = RETRY.delay(attempt)
                attempt += 1
                log.warning("integrity schedule: cannot queue %s, retry in %.0fs: %s", timer.job.value, delay, exc)
                await trio.sleep(delay)
