"""The restorer: runs Immich's maintenance action ``restore_database`` for this process.

Immich's order (its maintenance worker and ``restoreDatabaseBackup``): status ``ready``, a
``restore-point-`` backup of the live database (``backup``), the replay of the chosen backup
(``restore``), the migrations on the restored database (``migrations``; when they fail the
restore point goes back in, ``rollback``), then maintenance ends. Any failure leaves
maintenance on with task ``error`` and the reason in ``error``.

The task and its progress live in the stored maintenance state (``sql/maintenance.py``), so
every process answers the status and the restored database holds the same state (secret
included) from the moment it is swapped in: the maintenance cookie stays valid and no
process leaves maintenance before the migrations ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import attrs
import trio

from immich_trio import IMMICH_VERSION_STRING
from immich_trio.actors.database_backup import backup_name, default_pg_dump, dump
from immich_trio.actors.database_restore import RestoreFailed, default_psql, restore_backup
from immich_trio.actors.dispatcher import WallClock
from immich_trio.reactor import Actor
from immich_trio.sql import driver, events
from immich_trio.sql import maintenance as q
from immich_trio.sql import server as server_sql
from immich_trio.sql.migrate import migrate
from immich_trio.sql.pool import Pool
from immich_trio.storage.layout import BACKUPS

log = logging.getLogger(__name__)

SERVICE_NAME = "database-restorer"
INBOX = 0
"""Unbuffered: a send succeeds only while the restorer waits idle, so the sender
(``send_nowait``) refuses a second restore while one runs."""
RESTORE_POINT_PREFIX = "restore-point-"
ACTION = "restore_database"
APP_RESTART = "AppRestartV1"
# Immich's progress marks at the start of each task, in percent: Immich sends fractions
# (0.05, 0.9) but its spec types ``progress`` as an integer, which generated clients parse.
READY, BACKUP, RESTORE, MIGRATIONS = 0, 5, 10, 90


@attrs.frozen(kw_only=True)
class RestoreDatabase:
    """Restore ``<media>/backups/<filename>`` (a name already validated by the sender)."""

    filename: str


class DatabaseRestorer(Actor[RestoreDatabase]):
    """Owns the running restore of this process.

    Inbox: ``RestoreDatabase`` (unbuffered, one at a time). Errors of a restore are
    reported into the maintenance state, never raised: the actor goes on.
    """

    inbox_capacity: ClassVar[int] = INBOX

    def __init__(
        self,
        pool: Pool,
        media: Path,
        *,
        now: WallClock,
        pg_dump: Callable[[], Path] = default_pg_dump,
        psql: Callable[[], Path] = default_psql,
        name: str = SERVICE_NAME,
    ) -> None:
        super().__init__(name=name)
        self._pool = pool
        self._folder = media / BACKUPS
        self._now = now
        self._pg_dump = pg_dump
        self._psql = psql

    async def handle(self, msg: RestoreDatabase) -> None:
        try:
            await self._restore(msg.filename)
        except Exception as exc:  # Cancelled is a BaseException and passes
            log.error("%s: database restore from %s failed: %s", self.name, msg.filename, exc)
            with trio.move_on_after(30, shield=True):
                await self._report("error", error=f"Error: {exc}")

    async def _restore(self, filename: str) -> None:
        backup = self._folder / filename
        await self._report("ready", READY)
        if not await trio.to_thread.run_sync(backup.is_file):
            raise RestoreFailed(f"ENOENT: no such file or directory, stat '{backup}'")
        await self._report("backup", BACKUP)
        restore_point = await self._restore_point()
        await self._report("restore", RESTORE)
        await restore_backup(self._pool.url, backup, psql=self._psql, prepare=self._carry_state("restore"))
        await self._report("migrations", MIGRATIONS)
        try:
            async with self._pool.connection() as conn:
                await migrate(conn)
                await server_sql.record_version(conn, IMMICH_VERSION_STRING)
        except Exception:
            await self._report("rollback", READY)
            await restore_backup(
                self._pool.url, restore_point, psql=self._psql, prepare=self._carry_state("rollback")
            )
            raise
        async with self._pool.connection() as conn, conn.transaction():
            state = {"isMaintenanceMode": False}
            await q.set_state(conn, state)
            await events.publish_to_all(conn, APP_RESTART, state)
        log.info("%s: database restored from %s; maintenance mode off", self.name, filename)

    async def _restore_point(self) -> Path:
        async with self._pool.connection() as conn:
            pg_version = await server_sql.postgres_version(conn)
        stamp = self._now().astimezone().strftime("%Y%m%dT%H%M%S")
        target = self._folder / (RESTORE_POINT_PREFIX + backup_name(stamp, pg_version))
        await trio.to_thread.run_sync(lambda: self._folder.mkdir(parents=True, exist_ok=True))
        await dump(self._pg_dump(), self._pool.url, target)
        return target

    def _carry_state(self, task: str) -> Callable[[str], Any]:
        """Write the current maintenance state into the database about to be swapped in."""

        async def prepare(url: str) -> None:
            async with self._pool.connection() as live:
                state = await q.get_state(live)
            restored = await driver.connect(url)
            async with restored, restored.transaction():
                await q.set_state(restored, {**state, "task": task})

        return prepare

    async def _report(self, task: str, progress: int | None = None, *, error: str | None = None) -> None:
        """Record the task (Immich's ``MaintenanceStatusResponseDto`` fields) in the state."""
        async with self._pool.connection() as conn, conn.transaction():
            state = await q.get_state(conn)
            action = state.get("action") or {}
            status: dict[str, Any] = {"action": {**action, "action": ACTION}, "task": task}
            if progress is not None:
                status["progress"] = progress
            if error is not None:
                status["error"] = error
            kept = {k: v for k, v in state.items() if k not in ("task", "progress", "error")}
            await q.set_state(conn, {**kept, "isMaintenanceMode": True, **status})
