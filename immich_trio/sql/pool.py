"""A bounded pool of ``TrioConnection``s that survives database restarts.

``psycopg_pool`` needs asyncio; this pool is Trio-native: a semaphore bounds the number of
connections, idle ones wait in a LIFO list, and a dead server turns into fast
``DatabaseUnavailable`` errors instead of hangs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import psycopg
import trio
from psycopg import pq
from psycopg.waiting import WAIT_R, _ready

from .driver import TrioConnection, connect
from .errors import DatabaseUnavailable, PoolClosed

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 10
DEFAULT_MIN_SIZE = 1
# Short, so that a dead server gives fast 503s instead of piled-up requests.
DEFAULT_CONNECT_TIMEOUT = 5.0
# How long a request may wait for a free connection when all are in use.
DEFAULT_ACQUIRE_TIMEOUT = 30.0
# Idle connections beyond min_size are closed after this long.
DEFAULT_MAX_IDLE = 300.0
# Cleanup on return (rollback) gets this long before the connection is discarded.
RESET_TIMEOUT = 5.0
MAINTENANCE_INTERVAL = 10.0
HEALTH_CHECK_READS = 4
TCP_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

Connection = TrioConnection[dict[str, Any]]

_IDLE = pq.TransactionStatus.IDLE
_INTRANS = pq.TransactionStatus.INTRANS
_INERROR = pq.TransactionStatus.INERROR


@attrs.frozen(kw_only=True)
class PoolStatistics:
    """Snapshot of a pool (trio's ``statistics()`` convention)."""

    size: int  # open connections, in use or idle
    in_use: int
    idle: int
    waiting: int  # tasks waiting for a free connection
    max_size: int
    connections_made: int
    connect_failures: int
    connections_discarded: int
    last_error: str | None


@attrs.define(eq=False)
class _Idle:
    conn: Connection
    since: float


class Pool:
    """Up to ``max_size`` connections to ``url``; check one out with ``pool.connection()``.

    Owns its connections; runs as a supervised task (``await nursery.start(pool.run)``)
    that verifies the database on start, keeps ``min_size`` connections warm, closes
    long-idle ones and closes everything when cancelled.

    Connections are in autocommit mode by default (``autocommit=False`` to change it):
    delimit transactions with ``async with conn.transaction()``. When the block of
    ``connection()`` ends with a transaction still open it is committed, or rolled back
    if the block raised, as psycopg_pool does.

    Errors: a connection that can't be made within ``connect_timeout``, a connection that
    breaks in use (``psycopg.OperationalError`` leaving it closed) and waiting longer than
    ``acquire_timeout`` for a free one all raise ``DatabaseUnavailable``; broken
    connections are discarded and replaced on demand, so the pool recovers by itself
    when the server comes back.
    """

    def __init__(
        self,
        url: str,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        min_size: int = DEFAULT_MIN_SIZE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
        max_idle: float = DEFAULT_MAX_IDLE,
        maintenance_interval: float = MAINTENANCE_INTERVAL,
        autocommit: bool = True,
        **connect_kwargs: Any,
    ) -> None:
        if max_size < 1 or not 0 <= min_size <= max_size:
            raise ValueError(f"need 0 <= min_size <= max_size, >= 1: {min_size}, {max_size}")
        self.url = url
        self.max_size = max_size
        self.min_size = min_size
        self.connect_timeout = connect_timeout
        self.acquire_timeout = acquire_timeout
        self.max_idle = max_idle
        self.maintenance_interval = maintenance_interval
        self._autocommit = autocommit
        # TCP keepalives notice a server that vanished without closing the connection.
        self._connect_kwargs = {**TCP_KEEPALIVES, **connect_kwargs}
        self._slots = trio.Semaphore(max_size)
        self._idle: list[_Idle] = []
        self._in_use = 0
        self._connecting = 0
        self._running = False
        self._made = 0
        self._failures = 0
        self._discarded = 0
        self._last_error: str | None = None

    # -- public -----------------------------------------------------------------

    def statistics(self) -> PoolStatistics:
        return PoolStatistics(
            size=len(self._idle) + self._in_use,
            in_use=self._in_use,
            idle=len(self._idle),
            waiting=self._slots.statistics().tasks_waiting,
            max_size=self.max_size,
            connections_made=self._made,
            connect_failures=self._failures,
            connections_discarded=self._discarded,
            last_error=self._last_error,
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """Check out a connection for the duration of the block."""
        conn = await self._acquire()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            await self._release(conn, failed=True)
            if conn.closed:
                self._last_error = f"{type(exc).__name__}: {exc}"
                raise DatabaseUnavailable(f"database connection lost: {exc}") from exc
            raise
        except BaseException:
            await self._release(conn, failed=True)
            raise
        else:
            await self._release(conn, failed=False)

    async def run(self, *, task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the pool (one verified connection), report ready, maintain it until cancelled.

        Raises ``DatabaseUnavailable`` if the first connection can't be made.
        """
        if self._running:
            raise RuntimeError("pool is already running")
        self._running = True
        try:
            conn = await self._connect()
            self._idle.append(_Idle(conn, trio.current_time()))
            task_status.started(self)
            while True:
                await trio.sleep(self.maintenance_interval)
                await self._maintain()
        finally:
            self._running = False
            with trio.CancelScope(shield=True):
                while self._idle:
                    await self._idle.pop().conn.close()

    # -- checkout and return -------------------------------------------------

    async def _acquire(self) -> Connection:
        if not self._running:
            raise PoolClosed("the database pool is not running")
        with trio.move_on_after(self.acquire_timeout) as scope:
            await self._slots.acquire()
        if scope.cancelled_caught:
            raise DatabaseUnavailable(
                f"no database connection free within {self.acquire_timeout} s "
                f"({self.max_size} in use)"
            )
        try:
            if not self._running:
                raise PoolClosed("the database pool shut down")
            conn = self._take_idle()
            if conn is None:
                conn = await self._connect()
        except BaseException:
            self._slots.release()
            raise
        self._in_use += 1
        return conn

    def _take_idle(self) -> Connection | None:
        while self._idle:
            conn = self._idle.pop().conn
            if self._is_healthy(conn):
                return conn
            self._discard_nowait(conn)
        return None

    def _is_healthy(self, conn: Connection) -> bool:
        """Cheap check of an idle connection: no syscall beyond one zero-timeout poll.

        An idle connection has nothing to read unless the server said something on its
        own: a notification, or a FATAL/EOF because it shut down. Reading that tells
        which.
        """
        if conn.closed:
            return False
        try:
            # A server closing the connection sends a FATAL message, then EOF: the second
            # read sees the EOF and raises. Notifications are read once and done.
            for _ in range(HEALTH_CHECK_READS):
                if not _ready(conn.pgconn.socket, WAIT_R):
                    break
                conn.pgconn.consume_input()
                conn.pgconn.is_busy()  # parse what was read
        except (psycopg.OperationalError, OSError):
            return False
        return not conn.closed and conn.pgconn.transaction_status == _IDLE

    async def _release(self, conn: Connection, *, failed: bool) -> None:
        self._in_use -= 1
        try:
            if await self._reset(conn, failed=failed) and self._running:
                self._idle.append(_Idle(conn, trio.current_time()))
            else:
                await self._discard(conn)
        finally:
            self._slots.release()

    async def _reset(self, conn: Connection, *, failed: bool) -> bool:
        """Bring a returned connection back to idle; False if it should be discarded."""
        if conn.closed:
            return False
        status = conn.pgconn.transaction_status
        if status == _IDLE:
            return True
        if status not in (_INTRANS, _INERROR):
            return False  # a query still running, or unknown state
        with trio.move_on_after(RESET_TIMEOUT, shield=True):
            try:
                if failed or status == _INERROR:
                    await conn.rollback()
                else:
                    await conn.commit()
            except psycopg.Error as exc:
                logger.warning("discarding a connection that failed to reset: %s", exc)
                return False
            return not conn.closed and conn.pgconn.transaction_status == _IDLE
        return False

    async def _discard(self, conn: Connection) -> None:
        self._discarded += 1
        with trio.CancelScope(shield=True):
            await conn.close()

    def _discard_nowait(self, conn: Connection) -> None:
        # close() only finishes the libpq connection; it never blocks.
        self._discarded += 1
        if not conn.closed:
            trio.lowlevel.notify_closing(conn.pgconn.socket)
        conn.pgconn.finish()

    async def _connect(self) -> Connection:
        self._connecting += 1
        try:
            with trio.move_on_after(self.connect_timeout + 1) as scope:
                conn = await connect(
                    self.url,
                    autocommit=self._autocommit,
                    connect_timeout=max(2, round(self.connect_timeout)),
                    **self._connect_kwargs,
                )
            if scope.cancelled_caught:
                raise psycopg.errors.ConnectionTimeout("connection timeout expired")
        except psycopg.Error as exc:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        finally:
            self._connecting -= 1
        self._made += 1
        return conn

    async def _maintain(self) -> None:
        """Close long-idle or dead connections; top up to ``min_size``."""
        now = trio.current_time()
        keep: list[_Idle] = []
        for idle in self._idle:
            expired = now - idle.since > self.max_idle and len(keep) >= self.min_size
            if expired or not self._is_healthy(idle.conn):
                self._discard_nowait(idle.conn)
            else:
                keep.append(idle)
        self._idle[:] = keep
        while len(self._idle) + self._in_use < self.min_size:
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                return
            try:
                conn = await self._connect()
            except DatabaseUnavailable as exc:
                logger.info("pool top-up failed: %s", exc)
                return
            finally:
                self._slots.release()
            self._idle.insert(0, _Idle(conn, trio.current_time()))


@asynccontextmanager
async def open_pool(url: str, **kwargs: Any) -> AsyncIterator[Pool]:
    """Run a ``Pool`` for the duration of the block (tests and scripts)."""
    pool = Pool(url, **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        try:
            yield pool
        finally:
            nursery.cancel_scope.cancel()
