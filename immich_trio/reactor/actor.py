"""The actor base class: one inbox, a handler per message, counters for the status tree."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

import attrs
import trio

from .address import DEFAULT_INBOX_CAPACITY, Address, Envelope, Inbox
from .status import ErrorInfo, InboxStatistics, WallClock, utc_now

Msg = TypeVar("Msg")

DEFAULT_TEARDOWN_TIMEOUT = 5.0
"""Seconds ``teardown`` may take, shielded from cancellation, before it is abandoned."""


@attrs.frozen(kw_only=True)
class ActorStatistics:
    name: str
    inbox: InboxStatistics
    concurrency: int
    handled: int
    failed: int
    in_flight: int
    last_error: ErrorInfo | None


class Actor(Generic[Msg]):
    """Base class of long-lived actors.

    Subclasses implement ``handle``; ``setup`` runs before each run (also after a restart, so
    per-run state belongs there) and ``teardown`` after it. The inbox and the counters belong
    to the instance, not to one run, so an ``Address`` keeps working across restarts and
    messages still buffered when a run dies are handled by the next one.

    Class attributes: ``inbox_capacity`` (bounded, backpressure on senders), ``concurrency``
    (messages handled at once; above 1 handlers run in a nursery under a
    ``CapacityLimiter``), ``crash_on_error`` (False: a failing message is counted, recorded
    and the actor goes on; True: the failure ends the run so the supervisor restarts it).
    """

    inbox_capacity: ClassVar[int] = DEFAULT_INBOX_CAPACITY
    concurrency: ClassVar[int] = 1
    crash_on_error: ClassVar[bool] = False
    teardown_timeout: ClassVar[float] = DEFAULT_TEARDOWN_TIMEOUT

    def __init__(self, *, name: str | None = None, wall_clock: WallClock | None = None) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        self.name = name if name is not None else type(self).__name__
        self._wall_clock = wall_clock
        self._inbox: Inbox[Msg] = Inbox(self.name, self.inbox_capacity)
        self._address = Address(self._inbox)
        self._handled = 0
        self._failed = 0
        self._in_flight = 0
        self._last_error: ErrorInfo | None = None
        self._stopping = False
        self._receive_scope: trio.CancelScope | None = None

    # -- to implement ------------------------------------------------------------------

    async def handle(self, msg: Msg) -> None:
        raise NotImplementedError

    async def setup(self) -> None:
        """Acquire what one run needs; a raise here counts as a failed start."""

    async def teardown(self) -> None:
        """Release what ``setup`` acquired; runs shielded, bounded by ``teardown_timeout``."""

    def extra_status(self) -> dict[str, object]:
        """Extra fields for the status tree (e.g. job queue depths)."""
        return {}

    # -- public ------------------------------------------------------------------------

    @property
    def address(self) -> Address[Msg]:
        return self._address

    @property
    def wall_clock(self) -> WallClock:
        return self._wall_clock or utc_now

    def adopt_wall_clock(self, wall_clock: WallClock) -> None:
        """Use ``wall_clock`` unless one was given explicitly (called by supervisors)."""
        if self._wall_clock is None:
            self._wall_clock = wall_clock

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            name=self.name,
            inbox=self._inbox.statistics(),
            concurrency=self.concurrency,
            handled=self._handled,
            failed=self._failed,
            in_flight=self._in_flight,
            last_error=self._last_error,
        )

    def request_stop(self) -> None:
        """Stop taking new messages: handle what is buffered and in flight, then return."""
        self._stopping = True
        if self._receive_scope is not None:
            self._receive_scope.cancel()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """One run: setup, serve the inbox until ``request_stop``, teardown."""
        self._stopping = False
        await self.setup()
        try:
            task_status.started()
            if self.concurrency == 1:
                await self._serve_serially()
            else:
                await self._serve_concurrently()
        finally:
            with trio.move_on_after(self.teardown_timeout, shield=True):
                await self.teardown()

    # -- internals ---------------------------------------------------------------------

    async def _next(self) -> Envelope[Msg] | None:
        """The next message, or None once a stop was requested and the inbox is drained."""
        if not self._stopping:
            with trio.CancelScope() as self._receive_scope:
                if self._stopping:  # requested between the check and entering the scope
                    self._receive_scope.cancel()
                return await self._inbox.receive_channel.receive()
            self._receive_scope = None
        try:
            return self._inbox.receive_channel.receive_nowait()
        except trio.WouldBlock:
            return None

    async def _serve_serially(self) -> None:
        while (envelope := await self._next()) is not None:
            await self._dispatch(envelope)

    async def _serve_concurrently(self) -> None:
        limiter = trio.CapacityLimiter(self.concurrency)
        async with trio.open_nursery() as nursery:
            while True:
                token = object()
                # Take a slot before taking a message so the backlog waits in the inbox,
                # where senders feel it, rather than in this task.
                await limiter.acquire_on_behalf_of(token)
                try:
                    envelope = await self._next()
                except BaseException:
                    limiter.release_on_behalf_of(token)
                    raise
                if envelope is None:
                    limiter.release_on_behalf_of(token)
                    return
                nursery.start_soon(self._dispatch_then_release, envelope, limiter, token)

    async def _dispatch_then_release(
        self, envelope: Envelope[Msg], limiter: trio.CapacityLimiter, token: object
    ) -> None:
        try:
            await self._dispatch(envelope)
        finally:
            limiter.release_on_behalf_of(token)

    async def _dispatch(self, envelope: Envelope[Msg]) -> None:
        self._in_flight += 1
        try:
            await self.handle(envelope.msg)
        except Exception as error:
            self._failed += 1
            self._last_error = ErrorInfo.capture(error, self.wall_clock)
            if envelope.reply is not None:
                envelope.reply._crash(error)
            if self.crash_on_error:
                raise
        except BaseException:
            # Cancelled (or worse) mid-message: the asker must not wait for nothing.
            if envelope.reply is not None:
                envelope.reply._crash(None)
            raise
        else:
            self._handled += 1
        finally:
            self._in_flight -= 1
