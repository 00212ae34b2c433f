"""Hypercorn 0.18's HTTP/2 protocol with the slow-sender limits and an early-answer fix.

Every HTTP/2 connection the server accepts (h2c by prior knowledge or by ``Upgrade: h2c`` on
the plain port, h2 by ALPN when TLS is configured) runs ``GuardedH2Protocol``, installed in
place of Hypercorn's ``H2Protocol`` by ``hypercorn_patches``, whose read loop asks the
guard how long the next read may wait and calls ``enforce_limits`` when that time runs out.

Time is counted as for HTTP/1.1: only while the server waits on the socket (a stream whose
handler is not reading its body stalls the whole connection's reading in Hypercorn, and that
time is charged to nobody). Hypercorn acknowledges every DATA frame as soon as the handler's
queue takes it, so while the server waits the client's flow-control windows are open and
the client alone decides how fast bytes arrive.

- A request's header block (HEADERS and its CONTINUATIONs, from the HEADERS frame's header
  to the END_HEADERS frame's last byte) must arrive within ``header_timeout``. No other
  frame may come in between and HPACK state cannot skip a block, so a stalled block stalls
  the connection: the stream is reset (RST_STREAM CANCEL), GOAWAY is sent and the
  connection closed.
- A connection must complete its first request's headers within ``header_timeout`` of
  starting HTTP/2, or it gets GOAWAY and is closed (idle time after a request is the
  keep-alive timeout's business, as on HTTP/1.1).
- An open request body must bring ``min_body_rate * body_rate_window`` bytes of DATA for
  each ``body_rate_window`` of waiting, or that stream alone is reset (RST_STREAM CANCEL)
  and its handler hears the disconnect; the other streams go on. Extended CONNECT streams
  (websockets) are exempt, as upgraded HTTP/1.1 connections are.

Hypercorn also raised ``KeyError`` out of the connection (and out of ``serve``) when DATA
arrived for a stream whose handler had already answered: any early 401 to a client still
sending its body. Such DATA is acknowledged and dropped here, and once the answer is
complete the client is asked to stop sending (RST_STREAM NO_ERROR, RFC 9113 section 8.1).
And a reset stream (by the client, or by the limits here) never restarted the keep-alive
timer: a connection whose last stream was reset stayed open, idle, for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from math import inf
from typing import Any

import attrs
import h2.events
import h2.exceptions
from h2.errors import ErrorCodes
from h2.stream import StreamState
from hypercorn.events import Event, RawData, Updated
from hypercorn.protocol.h2 import H2Protocol
from hyperframe.frame import RstStreamFrame

PREFACE_LENGTH = 24  # b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER_LENGTH = 9
DATA, HEADERS, CONTINUATION = 0x0, 0x1, 0x9
END_HEADERS = 0x4


@attrs.frozen(kw_only=True)
class SlowSenderLimits:
    header_timeout: float  # seconds of waiting for one request's header block
    min_body_rate: float  # bytes/s a request body must average over each window
    body_rate_window: float  # seconds of waiting per window


class FrameScanner:
    """Follows frame boundaries in what a client sends: which header block is open, and
    how many DATA bytes each stream has delivered (partial frames included)."""

    def __init__(self) -> None:
        self._skip = PREFACE_LENGTH  # bytes left of the preface or of the current frame
        self._head = bytearray()
        self._frame: tuple[int, int, int] | None = None  # type, flags, stream id
        self._blocks = 0
        self.header_block: tuple[int, int] | None = None  # open header block: serial, stream id

    def feed(self, data: bytes) -> Iterator[tuple[int, int]]:
        """Consume ``data``; yield ``(stream_id, data_bytes)`` for DATA payload seen."""
        view, at = memoryview(data), 0
        while at < len(view):
            if self._skip:
                taken = min(self._skip, len(view) - at)
                at += taken
                self._skip -= taken
                if self._frame is not None:
                    kind, _, stream_id = self._frame
                    if kind == DATA:
                        yield stream_id, taken
                    if not self._skip:
                        self._end_frame()
                continue
            wanted = FRAME_HEADER_LENGTH - len(self._head)
            self._head += view[at : at + wanted]
            at += min(wanted, len(view) - at)
            if len(self._head) == FRAME_HEADER_LENGTH:
                self._start_frame(bytes(self._head))
                self._head.clear()

    def _start_frame(self, head: bytes) -> None:
        length = int.from_bytes(head[:3], "big")
        stream_id = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        self._frame = (head[3], head[4], stream_id)
        if head[3] == HEADERS and self.header_block is None:
            self._blocks += 1
            self.header_block = (self._blocks, stream_id)
        self._skip = length
        if not length:
            self._end_frame()

    def _end_frame(self) -> None:
        assert self._frame is not None
        kind, flags, _ = self._frame
        if kind in (HEADERS, CONTINUATION) and flags & END_HEADERS:
            self.header_block = None
        self._frame = None


@attrs.define
class _BodyWindow:
    started: float  # waiting clock at the start of this window
    received: int = 0


class H2SlowSenderGuard:
    """The limits of one HTTP/2 connection, on a clock that runs only while the server waits
    for the client (``advance``)."""

    def __init__(self) -> None:
        self.waited = 0.0
        self.scanner = FrameScanner()
        self.requested = False  # has any request's header block completed?
        self._block: tuple[int, float] | None = None  # open header block: serial, started
        self.bodies: dict[int, _BodyWindow] = {}

    def advance(self, waited: float) -> None:
        self.waited += waited

    def feed(self, data: bytes) -> None:
        for stream_id, size in self.scanner.feed(data):
            if (body := self.bodies.get(stream_id)) is not None:
                body.received += size
        block = self.scanner.header_block
        if block is None:
            self._block = None
        elif self._block is None or self._block[0] != block[0]:
            self._block = (block[0], self.waited)

    def observe(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self.requested = True
            if (b":method", b"CONNECT") not in (event.headers or ()):
                self.bodies[event.stream_id] = _BodyWindow(started=self.waited)
        elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
            self.forget(event.stream_id)

    def forget(self, stream_id: int) -> None:
        self.bodies.pop(stream_id, None)

    def time_left(self, limits: SlowSenderLimits) -> float:
        """Seconds of waiting before the next limit runs out (``inf``: none applies)."""
        quota = limits.min_body_rate * limits.body_rate_window
        for body in self.bodies.values():
            if body.received >= quota:  # this window is paid: the next one starts now
                body.started, body.received = self.waited, 0
        deadlines = [body.started + limits.body_rate_window for body in self.bodies.values()]
        if not self.requested:
            deadlines.append(limits.header_timeout)
        if self._block is not None:
            deadlines.append(self._block[1] + limits.header_timeout)
        return min(deadlines, default=inf) - self.waited

    def headers_overdue(self, limits: SlowSenderLimits) -> bool:
        first = not self.requested and self.waited >= limits.header_timeout
        block = self._block is not None and self.waited - self._block[1] >= limits.header_timeout
        return first or block

    def slow_bodies(self, limits: SlowSenderLimits) -> list[int]:
        self.time_left(limits)  # close the windows that were paid
        return [
            stream_id
            for stream_id, body in self.bodies.items()
            if self.waited - body.started >= limits.body_rate_window
        ]


class GuardedH2Protocol(H2Protocol):
    """Hypercorn's HTTP/2 protocol, with ``guard`` fed by every byte and frame event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = H2SlowSenderGuard()

    async def initiate(
        self, headers: list[tuple[bytes, bytes]] | None = None, settings: bytes | None = None
    ) -> None:
        if headers is not None:  # the ``Upgrade: h2c`` request, complete, is stream 1
            self.guard.requested = True
        await super().initiate(headers, settings)

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, RawData):
            self.guard.feed(event.data)

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        for event in events:
            self.guard.observe(event)
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self._drop_unwanted_body(event)
            else:
                await super()._handle_events([event])
            if isinstance(event, h2.events.StreamReset):
                await self.send(Updated(idle=self.idle))
        await self._flush()

    def _drop_unwanted_body(self, event: h2.events.DataReceived) -> None:
        # The handler answered before reading the body: keep the windows open, and once the
        # answer is complete ask the client to stop sending.
        stream_id = event.stream_id
        with suppress(h2.exceptions.ProtocolError):
            self.connection.acknowledge_received_data(event.flow_controlled_length, stream_id)
            stream = self.connection.streams.get(stream_id)
            if event.stream_ended is None and stream is not None:
                if stream.state_machine.state is StreamState.HALF_CLOSED_LOCAL:
                    self.connection.reset_stream(stream_id, ErrorCodes.NO_ERROR)
                    self.guard.forget(stream_id)

    async def enforce_limits(self, limits: SlowSenderLimits) -> bool:
        """Reset the streams that broke a limit; False when the connection must close
        (GOAWAY sent)."""
        if self.guard.headers_overdue(limits):
            if (block := self.guard.scanner.header_block) is not None and block[1]:
                frame = RstStreamFrame(block[1], error_code=ErrorCodes.CANCEL)
                await self.send(RawData(data=frame.serialize()))
            with suppress(h2.exceptions.ProtocolError):
                self.connection.close_connection(error_code=ErrorCodes.NO_ERROR)
            await self._flush()
            return False
        for stream_id in self.guard.slow_bodies(limits):
            self.guard.forget(stream_id)
            with suppress(h2.exceptions.ProtocolError):
                self.connection.reset_stream(stream_id, ErrorCodes.CANCEL)
            await self._flush()
            await self._close_stream(stream_id)
            await self._window_updated(stream_id)
            await self.send(Updated(idle=self.idle))
        return True
