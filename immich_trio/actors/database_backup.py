"""The ``backupDatabase`` queue: ``DatabaseBackup`` writes a gzipped ``pg_dump`` into
``<media>/backups`` and keeps the newest ``backup.database.keepLastAmount`` of them."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import trio

from immich_trio import IMMICH_VERSION_STRING, sysconfig
from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import server as server_sql
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage.layout import BACKUPS

log = logging.getLogger(__name__)

SERVICE_NAME = "database-backup"
INBOX = 1
PREFIX = "immich-db-backup-"
BACKUP_NAME = re.compile(r"^immich-db-backup-(\d{8}T\d{6}-v.+-pg.+|\d{13})\.sql\.gz$")
"""Finished backups, Immich's current and older naming; ``.tmp`` ones are failed runs."""
JOBS = (JobName.DATABASE_BACKUP,)


def default_pg_dump() -> Path:
    """The ``pg_dump`` of the embedded PostgreSQL (newer than any server it may dump)."""
    from immich_trio.sql.embedded import bin_path

    return bin_path() / "pg_dump"


def backup_name(stamp: str, pg_version: str) -> str:
    return f"{PREFIX}{stamp}-{IMMICH_VERSION_STRING}-pg{pg_version}.sql.gz"


def prune(folder: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest backups, and failed ones (blocking); the removed names."""
    names = sorted(os.listdir(folder))
    backups = [n for n in names if BACKUP_NAME.match(n)]
    failed = [n for n in names if n.startswith(PREFIX) and n.endswith(".sql.gz.tmp")]
    doomed = backups[: max(len(backups) - max(keep, 1), 0)] + failed
    for name in doomed:
        (folder / name).unlink(missing_ok=True)
    return doomed


class DumpFailed(Exception):
    """``pg_dump`` failed; the message holds its exit status and stderr."""


async def dump(pg_dump: Path, url: str, final: Path) -> None:
    """``pg_dump`` of ``url`` into ``final``, gzipped, through ``<final>.tmp`` renamed when
    complete (so no half file looks finished); raises DumpFailed, leaving no file."""
    temp = final.with_name(final.name + ".tmp")
    command = [str(pg_dump), "--clean", "--if-exists", "--compress=gzip", f"--file={temp}", f"--dbname={url}"]
    done = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    if done.returncode != 0:
        await trio.to_thread.run_sync(lambda: temp.unlink(missing_ok=True))
        error = done.stderr.decode(errors="replace").strip()
        raise DumpFailed(f"pg_dump exited {done.returncode}: {error}")
    await trio.to_thread.run_sync(os.replace, temp, final)


class DatabaseBackupActor(QueueWorker):
    """Owns ``<media>/backups``.

    Inbox: ``RunJob`` for ``DatabaseBackup`` (the queue runs one at a time). The dump runs
    as a ``pg_dump`` subprocess writing gzip itself (``--compress=gzip``) to a ``.tmp``
    file that is renamed when complete, so a crash leaves no file that looks finished;
    the next run removes failed ``.tmp`` files. Errors: pg_dump's exit status and stderr
    fail the job (the dispatcher retries).
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = 1
    queue = QueueName.BACKUP_DATABASE

    def __init__(
        self,
        pool: Pool,
        media: Path,
        *,
        now: WallClock,
        pg_dump: Callable[[], Path] = default_pg_dump,
        name: str = SERVICE_NAME,
    ) -> None:
        super().__init__(pool, name=name)
        self._folder = media / BACKUPS
        self._now = now
        self._pg_dump = pg_dump

    async def run_job(self, job: Job) -> JobResult:
        if job.name != JobName.DATABASE_BACKUP:
            return self.unexpected(job)
        async with self._pool.connection() as conn:
            config = await sysconfig.load(conn)  # once a day: read fresh, not cached
            pg_version = await server_sql.postgres_version(conn)
        keep = int(config.get("backup", {}).get("database", {}).get("keepLastAmount") or 14)
        stamp = self._now().astimezone().strftime("%Y%m%dT%H%M%S")
        final = self._folder / backup_name(stamp, pg_version)
        await trio.to_thread.run_sync(lambda: self._folder.mkdir(parents=True, exist_ok=True))
        try:
            async with self.limiter:
                await dump(self._pg_dump(), self._pool.url, final)
        except DumpFailed as exc:
            log.error("%s: database backup failed: %s", self.name, exc)
            return JobResult(status="failed", error=str(exc))
        removed = await trio.to_thread.run_sync(prune, self._folder, keep)
        log.info("%s: database backup %s written; removed %d old", self.name, final.name, len(removed))
        return JobResult(status="success")
