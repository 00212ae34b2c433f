"""Typed handles on bounded actor inboxes, and one-slot request/reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
import trio

from .status import InboxStatistics

Msg = TypeVar("Msg")
T = TypeVar("T")

DEFAULT_INBOX_CAPACITY = 16
"""Messages an inbox buffers before senders wait; actor classes override ``inbox_capacity``."""

_REPLY_SLOTS = 1
"""A reply channel carries exactly one answer."""


class AskFailed(Exception):
    """The actor could not answer an ``ask``: its handler raised, or it stopped first.

    ``error`` is the handler's exception (also the ``__cause__``), or ``None`` when the
    actor was stopped or cancelled before replying.
    """

    def __init__(self, actor: str, error: BaseException | None) -> None:
        self.actor = actor
        self.error = error
        if error is None:
            detail = "stopped before replying"
        else:
            detail = f"failed: {type(error).__name__}: {error}"
        super().__init__(f"actor {actor!r} {detail}")


@attrs.frozen
class _Answer(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    crashed: bool = False


class ReplyTo(Generic[T]):
    """The answering side of an ``ask``: the actor calls ``send(value)`` or ``fail(exc)`` once.

    Both are synchronous and never block (the reply channel has one slot and only this handle
    writes to it). An answer for an asker that already gave up is dropped silently. A handler
    may pass the handle on to another actor that answers later.
    """

    __slots__ = ("_actor", "_answered", "_send")

    def __init__(self, send: trio.MemorySendChannel[_Answer[T]], actor: str) -> None:
        self._send = send
        self._actor = actor
        self._answered = False

    @property
    def answered(self) -> bool:
        return self._answered

    def send(self, value: T) -> None:
        self._deliver(_Answer(value=value))

    def fail(self, error: BaseException) -> None:
        """Make the asker's ``ask`` raise ``error`` itself."""
        self._deliver(_Answer(error=error))

    def _crash(self, error: BaseException | None) -> None:
        # Called by the runtime when the handler died without answering.
        if not self._answered:
            self._deliver(_Answer(error=error, crashed=True))

    def _deliver(self, answer: _Answer[T]) -> None:
        if self._answered:
            raise RuntimeError(f"reply from actor {self._actor!r} was already sent")
        self._answered = True
        try:
            self._send.send_nowait(answer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the asker timed out or was cancelled; nobody is listening
        finally:
            self._send.close()

    def __repr__(self) -> str:
        return f"<ReplyTo from {self._actor!r} answered={self._answered}>"


@attrs.frozen
class Envelope(Generic[Msg]):
    """What travels through an inbox: the message and, for an ``ask``, its reply handle."""

    msg: Msg
    reply: ReplyTo[Any] | None = None


class Inbox(Generic[Msg]):
    """A bounded memory channel that outlives any one run of the actor reading it."""

    def __init__(self, name: str, capacity: int = DEFAULT_INBOX_CAPACITY) -> None:
        if not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"inbox capacity must be a non-negative int, got {capacity!r}")
        self.name = name
        self.capacity = capacity
        self.peak = 0
        self.send_channel, self.receive_channel = trio.open_memory_channel[Envelope[Msg]](capacity)

    @property
    def depth(self) -> int:
        return self.send_channel.statistics().current_buffer_used

    def note_depth(self) -> None:
        self.peak = max(self.peak, self.depth)

    def statistics(self) -> InboxStatistics:
        return InboxStatistics(depth=self.depth, capacity=self.capacity, peak=self.peak)


class Address(Generic[Msg]):
    """Typed handle for sending to an actor; valid across restarts of that actor."""

    __slots__ = ("_inbox",)

    def __init__(self, inbox: Inbox[Msg]) -> None:
        self._inbox = inbox

    @property
    def name(self) -> str:
        return self._inbox.name

    async def send(self, msg: Msg) -> None:
        """Put ``msg`` in the inbox, waiting while it is full (backpressure)."""
        await self._inbox.send_channel.send(Envelope(msg))
        self._inbox.note_depth()

    def send_nowait(self, msg: Msg) -> None:
        """Put ``msg`` in the inbox or raise ``trio.WouldBlock`` if it is full."""
        self._inbox.send_channel.send_nowait(Envelope(msg))
        self._inbox.note_depth()

    async def ask(self, make: Callable[[ReplyTo[T]], Msg]) -> T:
        """Send ``make(reply_to)`` and wait for the answer.

        Raises what the actor passed to ``reply_to.fail``, or ``AskFailed`` if the handler
        raised or the actor stopped before answering. Set a deadline with ``trio.fail_after``.
        """
        send, receive = trio.open_memory_channel[_Answer[T]](_REPLY_SLOTS)
        reply = ReplyTo(send, self.name)
        with receive:
            await self._inbox.send_channel.send(Envelope(make(reply), reply))
            self._inbox.note_depth()
            try:
                answer = await receive.receive()
            except trio.EndOfChannel:
                raise AskFailed(self.name, None) from None
        if answer.crashed:
            raise AskFailed(self.name, answer.error) from answer.error
        if answer.error is not None:
            raise answer.error
        return answer.value  # type: ignore[return-value]

    def statistics(self) -> InboxStatistics:
        return self._inbox.statistics()

    def __repr__(self) -> str:
        return f"<Address {self.name!r}>"
