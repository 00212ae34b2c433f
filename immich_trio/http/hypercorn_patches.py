"""Fixes to Hypercorn's HTTP/1.1 connection handling, applied at import (pinned: hypercorn 0.18).

Hypercorn recycles (or closes) a kept-alive connection from inside the application's
``send()``, i.e. in the application's task. Quart-Trio cancels that task as soon as it hears
``http.disconnect``, which Hypercorn itself delivers in the middle of the recycling; the
cancellation lands between "stream closed" and "next cycle started / connection closed", so
a connection whose request body was not read before the answer (every early 401/403/413/501)
is left neither recycled nor closed: the next request on it is never answered.
``docs/upstream-reports.md`` holds the reproduction with a bare Quart-Trio app.

Hypercorn's only read limit is a per-``receive`` timeout, so a client sending one byte a
second holds a connection and its task forever. ``_read_data`` here bounds the time spent
waiting for a request's headers (``HEADER_TIMEOUT``) and requires a body to arrive at
``MIN_BODY_RATE`` bytes/s, measured over windows of ``BODY_RATE_WINDOW`` seconds of waiting:
a big upload over a slow link is never cut for its duration, only a stalled one. Time spent
while the server itself is not reading (backpressure) does not count against the client.
HTTP/2 connections (h2c, h2) get the same limits per stream: ``hypercorn_h2_patches``.

The recycling runs shielded, and an answer sent before the body was read discards the
rest of the body (up to ``DISCARD_LIMIT`` bytes) so the connection stays usable, as a
correct HTTP/1.1 server does; past the limit, or when the client awaits ``100 Continue``
(it may never send the body), the connection is closed.
"""

from __future__ import annotations

from importlib.metadata import version
from math import inf
from typing import Any

import h11
import trio
from hypercorn import protocol as hypercorn_protocol
from hypercorn.events import Closed, RawData, Updated
from hypercorn.protocol import h11 as hypercorn_h11
from hypercorn.protocol.events import Body, EndBody, Response
from hypercorn.trio import tcp_server

from immich_trio.http.hypercorn_h2_patches import GuardedH2Protocol, SlowSenderLimits

PINNED_HYPERCORN = "0.18.0"
DISCARD_LIMIT = 1024 * 1024  # bytes of an unread body read and dropped to keep the connection
HEADER_TIMEOUT = 60.0  # seconds of waiting for one request's headers (Node's headersTimeout)
MIN_BODY_RATE = 1024  # bytes/s a request body must average over each window
BODY_RATE_WINDOW = 60.0  # seconds of waiting per window


class _DiscardBody:
    """Stands in for the finished stream while the rest of an unread request body arrives."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.discarded = 0

    async def handle(self, event: object) -> None:
        protocol = self.protocol
        if isinstance(event, Body):
            self.discarded += len(event.data)
            if self.discarded > DISCARD_LIMIT:
                protocol.stream = None
                await protocol.can_read.set()
                await protocol.send(Closed())
        elif isinstance(event, EndBody):
            protocol.stream = None
            await _next_cycle_or_close(protocol)


def _header(stream: Any, wanted: bytes) -> bytes | None:
    scope = getattr(stream, "scope", None) or {}
    for name, value in scope.get("headers", ()):
        if name.lower() == wanted:
            return bytes(value).lower()
    return None


def _awaits_continue(stream: Any) -> bool:
    return _header(stream, b"expect") == b"100-continue"


def _too_long_to_discard(stream: Any) -> bool:
    length = _header(stream, b"content-length")
    return length is not None and (not length.isdigit() or int(length) > DISCARD_LIMIT)


_stream_send = hypercorn_h11.H11Protocol.stream_send


async def _stream_send_closing(self: Any, event: Any) -> None:
    # An answer before the body, when that body will not be discarded, says it closes.
    if (
        isinstance(event, Response)
        and event.status_code >= 200
        and isinstance(self.connection, h11.Connection)
        and self.connection.their_state is h11.SEND_BODY
        and (_too_long_to_discard(self.stream) or _awaits_continue(self.stream))
    ):
        event = Response(
            stream_id=event.stream_id,
            headers=[*event.headers, (b"connection", b"close")],
            status_code=event.status_code,
        )
    await _stream_send(self, event)


async def _next_cycle_or_close(protocol: Any) -> None:
    # Hypercorn's own recycling, after the stream is gone.
    connection = protocol.connection
    if (
        not protocol.context.terminated.is_set()
        and connection.our_state is h11.DONE
        and connection.their_state is h11.DONE
    ):
        try:
            connection.start_next_cycle()
        except h11.LocalProtocolError:
            await protocol.send(Closed())
        else:
            protocol.response = None
            protocol.scope = None
            await protocol.can_read.set()
            await protocol.send(Updated(idle=True))
    else:
        await protocol.can_read.set()
        await protocol.send(Closed())


async def _maybe_recycle(self: Any) -> None:
    with trio.CancelScope(shield=True):
        stream = self.stream
        await self._close_stream()
        connection = self.connection
        if (
            isinstance(connection, h11.Connection)
            and not self.context.terminated.is_set()
            and connection.our_state is h11.DONE
            and connection.their_state is h11.SEND_BODY
            and not _awaits_continue(stream)
            and not _too_long_to_discard(stream)
        ):
            self.stream = _DiscardBody(self)
            return
        await _next_cycle_or_close(self)


def hypercorn_version_is_pinned() -> bool:
    return version("hypercorn") == PINNED_HYPERCORN


hypercorn_h11.H11Protocol._maybe_recycle = _maybe_recycle  # type: ignore[method-assign]
hypercorn_h11.H11Protocol.stream_send = _stream_send_closing  # type: ignore[method-assign]


class SlowSenderGuard:
    """How long the next read may wait: by the phase of the request being received."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.waited = 0.0  # seconds spent waiting in this phase (or body window)
        self.received = 0  # body bytes in this window

    def observe(self, protocol: Any) -> None:
        connection = getattr(protocol, "connection", None)
        phase = "idle"
        if isinstance(connection, h11.Connection):
            if connection.their_state is h11.SEND_BODY:
                phase = "body"
            elif connection.their_state is h11.IDLE and connection.trailing_data[0]:
                phase = "headers"
        if phase != self.phase:
            self.phase, self.waited, self.received = phase, 0.0, 0

    def time_left(self) -> float:
        if self.phase == "headers":
            return HEADER_TIMEOUT - self.waited
        if self.phase == "body":
            return BODY_RATE_WINDOW - self.waited
        return inf

    def record(self, size: int, waited: float) -> None:
        self.waited += waited
        if self.phase == "body":
            self.received += size
            if self.received >= MIN_BODY_RATE * BODY_RATE_WINDOW:
                self.waited, self.received = 0.0, 0


def current_limits() -> SlowSenderLimits:
    return SlowSenderLimits(
        header_timeout=HEADER_TIMEOUT, min_body_rate=MIN_BODY_RATE, body_rate_window=BODY_RATE_WINDOW
    )


async def _read_data(self: Any) -> None:
    guard = SlowSenderGuard()  # HTTP/1.1; an HTTP/2 protocol carries its own
    while True:
        protocol = getattr(self.protocol, "protocol", None)
        h2_guard = protocol.guard if isinstance(protocol, GuardedH2Protocol) else None
        if h2_guard is not None:
            guard_left = h2_guard.time_left(current_limits())
        else:
            guard.observe(protocol)
            guard_left = guard.time_left()
        started = trio.current_time()
        limit = min(self.config.read_timeout or inf, guard_left)
        try:
            if limit == inf:  # between requests: no deadline, and no cancel scope to pay for
                data = await self.stream.receive_some(tcp_server.MAX_RECV)
            else:
                with trio.fail_after(max(0.0, limit)):
                    data = await self.stream.receive_some(tcp_server.MAX_RECV)
        except trio.TooSlowError:
            if isinstance(protocol, GuardedH2Protocol) and limit == guard_left:
                protocol.guard.advance(max(limit, trio.current_time() - started))
                if await protocol.enforce_limits(current_limits()):
                    continue  # only streams were reset: the connection goes on
            break
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            break
        if h2_guard is not None:
            h2_guard.advance(trio.current_time() - started)
        else:
            guard.record(len(data), trio.current_time() - started)
        await self.protocol.handle(RawData(bytes(data)))
        if data == b"":
            break
    await self.protocol.handle(Closed())


tcp_server.TCPServer._read_data = _read_data  # type: ignore[method-assign]
hypercorn_protocol.H2Protocol = GuardedH2Protocol  # type: ignore[attr-defined]
