"""The system config's cron timers: the integrity checks (``integrityChecks.<check>``) and the
nightly database backup (``backup.database``) each queue their job at the instants of their own
``cronExpression`` (in the server's zone) while ``enabled``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any

import attrs
import psycopg
import trio
from cronsim import CronSim, CronSimError

from immich_trio import sysconfig
from immich_trio.actors.config_watch import following_config
from immich_trio.actors.dispatcher import WallClock
from immich_trio.actors.nightly_time import server_zone
from immich_trio.jobs.names import JobName
from immich_trio.reactor import Backoff
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import nightly as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "cron-schedule"
MAX_SLEEP = 600.0
"""Seconds slept at most before the wall clock is read again (it may be set meanwhile)."""
RETRY = Backoff(initial=1.0, factor=2.0, cap=60.0)

CRONS: tuple[tuple[str, tuple[str, ...], JobName], ...] = (
    ("missingFiles", ("integrityChecks", "missingFiles"), JobName.INTEGRITY_MISSING_FILES_QUEUE_ALL),
    ("untrackedFiles", ("integrityChecks", "untrackedFiles"), JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL),
    ("checksumFiles", ("integrityChecks", "checksumFiles"), JobName.INTEGRITY_CHECKSUM_FILES),
    ("backupDatabase", ("backup", "database"), JobName.DATABASE_BACKUP),
    ("libraryScan", ("library", "scan"), JobName.LIBRARY_SCAN_QUEUE_ALL),
)
"""Each timer's name (its claim key), the config section holding ``enabled`` and
``cronExpression``, and the job it queues (as the manual jobs queue them)."""


@attrs.frozen
class Timer:
    name: str
    job: JobName
    expression: str


def _section(config: sysconfig.Config, path: tuple[str, ...]) -> dict[str, Any]:
    node: Any = config
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def enabled_timers(config: sysconfig.Config) -> list[Timer]:
    """The timers that are enabled and have a valid cron expression."""
    timers: list[Timer] = []
    for name, path, job in CRONS:
        section = _section(config, path)
        expression = section.get("cronExpression")
        if not section.get("enabled", True) or not isinstance(expression, str):
            continue
        try:
            CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            log.warning("%s: invalid cron expression %r: %s", ".".join(path), expression, exc)
            continue
        timers.append(Timer(name, job, expression))
    return timers


def next_due(timer: Timer, after: datetime, zone: tzinfo) -> datetime:
    """The first instant strictly after ``after`` matching the timer's expression in ``zone``."""
    return next(CronSim(timer.expression, after.astimezone(zone)))


class CronSchedule:
    """Owns the config's cron timers (``CRONS``); a supervised task (``run``), beside the nightly
    scheduler, in every ``api`` process.

    Sleeps on the Trio clock until the earliest due instant of the enabled checks, then, in
    one transaction per timer, records the instant (``sql/nightly.claim_run`` under the
    timer's own key: another process, or a restart, queues nothing twice) and queues the
    timer's job. A saved config (``sysconfig.subscribe``) wakes it: new expressions and
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
        async with following_config(self._pool, self._base, self._on_config, name="cron schedule"):
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

    async def _queue(self, timer: Timer, due: datetime) -> None:
        attempt = 0
        while True:
            try:
                async with self._pool.connection() as conn, conn.transaction():
                    if await q.claim_run(conn, due, q.cron_key(timer.name)):
                        await jobs_q.enqueue_job(conn, timer.job, {})
                        self.runs += 1
                        log.info("cron schedule: queued %s", timer.job.value)
                return
            except (DatabaseUnavailable, psycopg.Error) as exc:
                delay = RETRY.delay(attempt)
                attempt += 1
                log.warning("cron schedule: cannot queue %s, retry in %.0fs: %s", timer.job.value, delay, exc)
                await trio.sleep(delay)
