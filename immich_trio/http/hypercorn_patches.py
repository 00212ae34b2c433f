"""Fixes to Hypercorn's HTTP/1.1 connection handling, applied at import (pinned: hypercorn 0.18).

Hypercorn recycles (or closes) a kept-alive connection from inside the application's
``send()``, i.e. in the application's task. Quart-Trio cancels that task as soon as it hears
``http.disconnect``, which Hypercorn itself delivers in the middle of the recycling; the
cancellation lands between "stream closed" and "next cycle started / connection closed", so
a connection whose request body was not read before the answer (every early 401/403/413/501)
is left neither recycled nor closed: the next request on it is never answered.
``docs/upstream-reports.md`` holds the reproduction with a bare Quart-Trio app.

Here the recycling runs shielded, and an answer sent before the body was read discards the
rest of the body (up to ``DISCARD_LIMIT`` bytes) so the connection stays usable, as a
correct HTTP/1.1 server does; past the limit, or when the client awaits ``100 Continue``
(it may never send the body), the connection is closed.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import h11
import trio
from hypercorn.events import Closed, Updated
from hypercorn.protocol import h11 as hypercorn_h11
from hypercorn.protocol.events import Body, EndBody, Response

PINNED_HYPERCORN = "0.18.0"
DISCARD_LIMIT = 1024 * 1024  # bytes of an unread body read and dropped to keep the connection


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
