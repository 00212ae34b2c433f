"""psycopg 3 on Trio: AsyncConnection with its wait function, lock and DNS made Trio-native.

psycopg does its protocol work in generators that yield "wait for read/write on this fd";
asyncio is only used to drive them. ``TrioConnection`` drives them with
``trio.lowlevel.wait_readable/wait_writable`` instead. This touches psycopg internals, so
psycopg is pinned exactly and checked at import.
"""

from __future__ import annotations

import logging
import math
import socket
from time import monotonic
from types import TracebackType
from typing import Any, TypeVar, cast

import psycopg
import trio
from psycopg import errors as e
from psycopg import pq
from psycopg._capabilities import capabilities
from psycopg._conninfo_utils import get_param, get_param_def, is_ip_address, split_attempts
from psycopg.abc import AdaptContext, ConnDict, ConnParam, PQGen, PQGenConn
from psycopg.adapt import AdaptersMap
from psycopg.conninfo import conninfo_to_dict, make_conninfo, timeout_from_conninfo
from psycopg.rows import AsyncRowFactory, DictRow, dict_row
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_RW, WAIT_W, Ready, Wait, _ready

REQUIRED_PSYCOPG_VERSION = "3.3.9"
if psycopg.__version__ != REQUIRED_PSYCOPG_VERSION:  # pragma: no cover - install problem
    raise ImportError(
        f"immich_trio.sql.driver patches psycopg internals and needs psycopg=="
        f"{REQUIRED_PSYCOPG_VERSION} exactly, found {psycopg.__version__}; "
        f"install the pinned version (pip install 'psycopg[binary]=={REQUIRED_PSYCOPG_VERSION}')"
    )

logger = logging.getLogger(__name__)

RV = TypeVar("RV")
Row = TypeVar("Row")

# After a Trio cancellation: how long the server-side cancel plus draining the interrupted
# operation may take before the connection is given up and closed.
CANCEL_DRAIN_TIMEOUT = 5.0
# Don't hog the event loop longer than this when psycopg's generators never block.
MAX_BUSY_TIME = 0.005
# While libpq waits to write *or* read, how often to check for readability.
RW_POLL_INTERVAL = 0.02

_ACTIVE = pq.TransactionStatus.ACTIVE

_last_yield = 0.0


async def _maybe_yield() -> None:
    """Let other tasks run if we've been serving never-blocking generators for a while."""
    global _last_yield
    now = monotonic()
    if now - _last_yield >= MAX_BUSY_TIME:
        await trio.lowlevel.cancel_shielded_checkpoint()
        _last_yield = monotonic()


async def _wait_either(fileno: int) -> None:
    """Return once ``fileno`` is readable or writable.

    Trio waits on one direction per call; this case (libpq flushing a large query while
    the server may be talking) is rare, so poll for readability while waiting to write.
    """
    while True:
        with trio.move_on_after(RW_POLL_INTERVAL):
            await trio.lowlevel.wait_writable(fileno)
            return
        if _ready(fileno, WAIT_R):
            return


async def _wait_fd(fileno: int, s: Wait, deadline: float) -> Ready:
    """Wait for the state ``s`` (a psycopg ``Wait``) on ``fileno``; return a ``Ready``.

    Raise ``psycopg.errors._WaitTimeout`` at ``deadline`` (Trio time).
    """
    if not s & WAIT_RW:
        raise e.InternalError(f"bad poll status: {s}")
    if s & WAIT_W:
        # A socket is nearly always writable: a zero-timeout poll beats a loop round trip.
        await _maybe_yield()
        if ready := _ready(fileno, s):
            return cast(Ready, ready)
    if deadline == math.inf:
        return await _wait_fd_forever(fileno, s)
    with trio.move_on_at(deadline) as scope:
        return await _wait_fd_forever(fileno, s)
    assert scope.cancelled_caught
    raise e._WaitTimeout("wait timeout expired")


async def _wait_fd_forever(fileno: int, s: Wait) -> Ready:
    try:
        if s == WAIT_R:
            await trio.lowlevel.wait_readable(fileno)
            return READY_R
        if s == WAIT_W:
            await trio.lowlevel.wait_writable(fileno)
            return READY_W
        await _wait_either(fileno)
    except (OSError, trio.ClosedResourceError) as ex:
        raise e.OperationalError("connection socket closed") from ex
    return cast(Ready, _ready(fileno, s))


async def wait_conn_trio(
    gen: PQGenConn[RV],
    timeout: float | None = None,  # noqa: ASYNC109 - psycopg's wait_conn interface
) -> RV:
    """Drive a connection generator (it yields ``(fileno, wait)``) to completion."""
    deadline = trio.current_time() + timeout if timeout is not None else math.inf
    try:
        fileno, s = next(gen)
        while True:
            ready = await _wait_fd(fileno, s, deadline)
            fileno, s = gen.send(ready)
    except StopIteration as ex:
        rv: RV = ex.value
        return rv


async def _resolve_attempts(params: ConnDict) -> list[ConnDict]:
    """Split ``params`` into connection attempts, resolving host names with Trio.

    libpq would resolve names synchronously inside ``connect_start``, blocking the loop.
    """
    attempts: list[ConnDict] = []
    last_exc: Exception | None = None
    for attempt in split_attempts(params):
        host = get_param(attempt, "host")
        if not host or host.startswith("/") or host[1:2] == ":" or get_param(attempt, "hostaddr"):
            attempts.append(attempt)
            continue
        if is_ip_address(host):
            attempts.append({**attempt, "hostaddr": host})
            continue
        port = get_param(attempt, "port")
        if not port:
            port_def = get_param_def("port")
            port = (port_def and port_def.compiled) or "5432"
        try:
            answers = await trio.socket.getaddrinfo(
                host, port, proto=socket.IPPROTO_TCP, type=socket.SOCK_STREAM
            )
        except OSError as ex:
            last_exc = e.OperationalError(f"failed to resolve host {host!r}: {ex}")
            continue
        attempts.extend({**attempt, "hostaddr": str(item[4][0])} for item in answers)
    if not attempts:
        assert last_exc is not None
        raise last_exc
    return attempts


class _ConnectionLock:
    """A ``trio.Lock`` whose uncontended acquire is not a cancellation point.

    psycopg takes the connection lock in cleanup paths (``transaction()`` exit): if a
    cancelled scope made the acquire raise there, psycopg's transaction bookkeeping and the
    server's transaction would disagree. Waiting for a contended lock is still cancellable.
    """

    def __init__(self) -> None:
        self._lock = trio.Lock()

    async def __aenter__(self) -> None:
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


class TrioConnection(psycopg.AsyncConnection[Row]):
    """``psycopg.AsyncConnection`` that runs under Trio.

    Use it as psycopg documents ``AsyncConnection``. Async generators that hold the
    connection (``notifies()``, ``cursor.stream()``) must be closed by the task that
    iterates them: wrap them in ``contextlib.aclosing()``.

    Cancellation: when a Trio cancel scope interrupts an operation, the connection sends
    a server-side cancel and drains the operation under a shielded scope, then re-raises
    ``trio.Cancelled``; the connection stays usable (or is closed, if that fails within
    ``CANCEL_DRAIN_TIMEOUT``).
    """

    __module__ = "immich_trio.sql.driver"

    def __init__(
        self,
        pgconn: pq.abc.PGconn,
        row_factory: AsyncRowFactory[Row] | None = None,
    ) -> None:
        if row_factory is None:
            super().__init__(pgconn)
        else:
            super().__init__(pgconn, row_factory)
        self.lock = _ConnectionLock()  # type: ignore[assignment]

    @classmethod
    async def connect(
        cls,
        conninfo: str = "",
        *,
        autocommit: bool = False,
        prepare_threshold: int | None = 5,
        context: AdaptContext | None = None,
        row_factory: AsyncRowFactory[Row] | None = None,
        cursor_factory: type[psycopg.AsyncCursor[Row]] | None = None,
        **kwargs: ConnParam,
    ) -> TrioConnection[Row]:
        params = conninfo_to_dict(conninfo, **kwargs)
        timeout = timeout_from_conninfo(params)
        attempts = await _resolve_attempts(params)
        conn_errors: list[tuple[e.Error, str]] = []
        rv: TrioConnection[Row] | None = None
        for attempt in attempts:
            descr = "host: {!r}, port: {!r}, hostaddr: {!r}".format(
                attempt.get("host"), attempt.get("port"), attempt.get("hostaddr")
            )
            try:
                rv = await wait_conn_trio(
                    cls._connect_gen(make_conninfo("", **attempt)), timeout=timeout
                )
            except e._WaitTimeout:
                conn_errors.append((e.ConnectionTimeout("connection timeout expired"), descr))
            except e.Error as ex:
                conn_errors.append((ex, descr))
            else:
                break
        if rv is None:
            last_ex = conn_errors[-1][0]
            if len(conn_errors) > 1:
                lines = [str(last_ex), "Multiple connection attempts failed. All failures were:"]
                lines.extend(f"- {descr}: {error}" for error, descr in conn_errors)
                last_ex = type(last_ex)("\n".join(lines), pgconn=last_ex.pgconn)
            raise last_ex.with_traceback(None)

        rv._autocommit = bool(autocommit)
        if row_factory is not None:
            rv.row_factory = row_factory
        if cursor_factory is not None:
            rv.cursor_factory = cursor_factory
        if context is not None:
            rv._adapters = AdaptersMap(context.adapters)
        rv.prepare_threshold = prepare_threshold
        return rv

    async def wait(
        self,
        gen: PQGen[RV],
        interval: float = 0.0,
        timeout: float | None = None,  # noqa: ASYNC109 - overrides psycopg's signature
    ) -> RV:
        """Drive a psycopg generator on this connection to completion."""
        deadline = trio.current_time() + timeout if timeout is not None else math.inf
        fileno = self.pgconn.socket
        try:
            s = next(gen)
        except StopIteration as ex:
            rv: RV = ex.value
            await _maybe_yield()
            return rv
        try:
            while True:
                ready = await _wait_fd(fileno, s, deadline)
                s = gen.send(ready)
        except StopIteration as ex:
            rv = ex.value
            return rv
        except (trio.Cancelled, KeyboardInterrupt):
            await self._drain_after_cancel(gen, s, fileno)
            raise

    async def _drain_after_cancel(self, gen: PQGen[Any], s: Wait, fileno: int) -> None:
        """Bring the connection back to a known state after Trio cancelled ``gen``."""
        if self.closed or self.pgconn.transaction_status != _ACTIVE:
            # Nothing in flight (e.g. waiting in notifies()): the generator can be dropped.
            return
        with trio.move_on_after(CANCEL_DRAIN_TIMEOUT, shield=True) as scope:
            await self._try_cancel(timeout=CANCEL_DRAIN_TIMEOUT)
            try:
                while True:
                    ready = await _wait_fd(fileno, s, math.inf)
                    s = gen.send(ready)
            except StopIteration:
                pass
            except e.QueryCanceled:
                pass  # what we asked for
            except e.Error as ex:
                logger.debug("error draining a cancelled operation: %s", ex)
        if scope.cancelled_caught:
            logger.warning("operation not terminated after cancellation: closing connection")
            await self.close()

    async def cancel_safe(self, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        if not self._should_cancel():
            return
        if capabilities.has_cancel_safe():
            try:
                await wait_conn_trio(self._cancel_gen(), timeout=timeout or None)
            except e._WaitTimeout:
                raise e.CancellationTimeout("cancellation timeout expired") from None
        else:  # pragma: no cover - libpq < 17
            await trio.to_thread.run_sync(self.cancel)

    async def close(self) -> None:
        if not self.closed:
            # Wake any task blocked on the socket before libpq closes the fd under it.
            trio.lowlevel.notify_closing(self.pgconn.socket)
        await super().close()


def _with_utc(params: dict[str, Any]) -> dict[str, Any]:
    """Add ``-c TimeZone=UTC`` to the libpq ``options`` unless a time zone is given."""
    options = str(params.get("options") or "")
    if "timezone" not in options.lower():
        params["options"] = (options + " -c TimeZone=UTC").strip()
    return params


async def connect(
    conninfo: str,
    *,
    autocommit: bool = False,
    row_factory: AsyncRowFactory[Any] = dict_row,
    **kwargs: Any,
) -> TrioConnection[DictRow]:
    """Open a ``TrioConnection`` (rows as dicts, session time zone UTC by default).

    ``conninfo`` is a libpq URL or key/value string; ``kwargs`` are extra libpq parameters
    (e.g. ``connect_timeout=5``) or ``prepare_threshold``/``context``.
    """
    extra: dict[str, Any] = {
        k: kwargs.pop(k) for k in ("prepare_threshold", "context", "cursor_factory") if k in kwargs
    }
    params = _with_utc(dict(conninfo_to_dict(conninfo, **kwargs)))
    conn: TrioConnection[DictRow] = await TrioConnection.connect(
        make_conninfo("", **params), autocommit=autocommit, row_factory=row_factory, **extra
    )
    return conn
