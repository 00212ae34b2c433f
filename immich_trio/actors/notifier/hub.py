"""The notifier's core: which sockets are in which room, and fan-out of socket.io events.

Rooms follow Immich: one room named by the user id (every socket of that user) and, for
session logins, one named by the session id. The hub is pure Trio and synchronous: it is
called from the Trio thread only, and none of its methods ever block.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs
import trio

#: Frames a socket may have waiting before it counts as too slow and is dropped. Immich's
#: busiest burst is one `on_upload_success` + `AssetUploadReadyV2` pair per uploaded asset;
#: 256 covers a 100-asset bulk upload while capping a stuck client to a few MB of memory.
CLIENT_QUEUE_SIZE = 256

#: `on_server_version` payload for v3.1.0 (ServerVersionResponseDto).
SERVER_VERSION: Mapping[str, int | None] = {"major": 3, "minor": 1, "patch": 0, "prerelease": None}

#: Engine.IO MESSAGE (4) + socket.io DISCONNECT (1): the server ends the namespace.
DISCONNECT_FRAME = "41"


def encode_event(event: str, *args: object) -> str:
    """One socket.io EVENT to namespace `/` as an Engine.IO text frame: `42["event",...]`.

    `args` must be JSON values: callers unstructure their DTOs first (one cattrs converter).
    """
    return "42" + json.dumps([event, *args], separators=(",", ":"), ensure_ascii=False)


class EndReason(enum.Enum):
    """Why a subscription stopped receiving frames."""

    DETACHED = "detached"  # the connection left (client disconnect, socket closed)
    SLOW = "slow"  # its queue was full: dropped so the publisher never waits
    SESSION_CLOSED = "session closed"  # disconnect_session(): `41` was queued before the end


@attrs.frozen(kw_only=True)
class HubStatistics:
    connections: int  # authenticated sockets attached now
    rooms: int  # non-empty rooms
    events: int  # emit/broadcast calls that reached at least one socket
    sent: int  # frames queued to sockets (an event to 3 sockets counts 3)
    dropped: int  # sockets dropped because their queue was full


class Subscription:
    """One authenticated socket's membership: the frames the hub queued for it.

    `receive()` returns frames in order until the hub ends the subscription (see
    `end_reason`) or `detach()` is called.
    """

    def __init__(
        self,
        hub: Hub,
        user_id: str,
        session_id: str | None,
        send: trio.MemorySendChannel[str],
        receive: trio.MemoryReceiveChannel[str],
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.end_reason: EndReason | None = None
        self._ended = trio.Event()
        self._hub = hub
        self._send = send
        self._receive = receive

    @property
    def rooms(self) -> tuple[str, ...]:
        return (self.user_id,) if self.session_id is None else (self.user_id, self.session_id)

    @property
    def active(self) -> bool:
        return self.end_reason is None

    def detach(self) -> None:
        """Leave every room; idempotent. Frames still queued are discarded."""
        self._hub._end(self, EndReason.DETACHED)
        self._receive.close()

    async def wait_ended(self) -> None:
        """Return once the subscription has ended (`end_reason` is then set)."""
        await self._ended.wait()

    async def receive(self) -> str:
        """The next queued frame, in order.

        Raises `trio.EndOfChannel` once the subscription has ended and, for a socket dropped
        as too slow, at once: its backlog is not worth sending to a closing socket.
        """
        if self.end_reason is EndReason.SLOW:
            raise trio.EndOfChannel
        try:
            return await self._receive.receive()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None

    # Called by the hub only.
    def _offer(self, frame: str) -> bool:
        try:
            self._send.send_nowait(frame)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True


class Hub:
    """Rooms of connected sockets and fan-out of events to them.

    Owns: the room table and one bounded queue (`CLIENT_QUEUE_SIZE`) per socket; each
    socket's connection task drains its own queue into its websocket.
    Backpressure: publishers never wait. Each frame is queued with `send_nowait`; a socket
    whose queue is full is dropped at once (its queue ends with `EndReason.SLOW` and its
    connection closes the websocket), since one stuck phone must not stall uploads for
    everyone. socket.io clients reconnect by themselves and Immich's apps re-sync after a
    reconnect, so a drop costs the client a resync, not lost state.
    Errors: a non-JSON argument raises `TypeError` in the caller (a bug at the call site).
    """

    def __init__(
        self,
        *,
        server_version: Mapping[str, int | None] = SERVER_VERSION,
        queue_size: int = CLIENT_QUEUE_SIZE,
    ) -> None:
        self._server_version = dict(server_version)
        self._queue_size = queue_size
        self._rooms: dict[str, set[Subscription]] = {}
        self._release_notice: Any = None
        self._events = 0
        self._sent = 0
        self._dropped = 0

    # -- membership ------------------------------------------------------------------------

    def attach(self, *, user_id: str, session_id: str | None) -> Subscription:
        """Join an authenticated socket to its rooms and queue the on-connect events.

        As Immich does, `on_server_version` (and `on_new_release` when a version check
        result is stored) goes to the whole user room, so the user's other sockets get it too.
        """
        send, receive = trio.open_memory_channel[str](self._queue_size)
        sub = Subscription(self, user_id, session_id, send, receive)
        for room in sub.rooms:
            self._rooms.setdefault(room, set()).add(sub)
        self.emit_to_user(user_id, "on_server_version", self._server_version)
        if self._release_notice is not None:
            self.emit_to_user(user_id, "on_new_release", self._release_notice)
        return sub

    def set_release_notice(self, notice: object) -> None:
        """Store the last version-check result (ReleaseNotification) sent on every connect;
        `None` stops sending it. Broadcasting a new release stays the caller's job."""
        self._release_notice = notice

    # -- publishing ------------------------------------------------------------------------

    def emit_to_user(self, user_id: str, event: str, *args: object) -> None:
        """Send an event to every socket of a user."""
        self._emit(self._rooms.get(user_id, ()), event, args)

    def emit_to_session(self, session_id: str, event: str, *args: object) -> None:
        """Send an event to the sockets of one login session."""
        self._emit(self._rooms.get(session_id, ()), event, args)

    def broadcast(self, event: str, *args: object) -> None:
        """Send an event to every connected socket."""
        everyone = {sub for members in self._rooms.values() for sub in members}
        self._emit(everyone, event, args)

    def disconnect_session(self, session_id: str) -> None:
        """End the socket.io connection of every socket of a logged-out session.

        Each gets `41` (server namespace disconnect) after whatever was queued before, such
        as `on_session_delete`; the websocket stays open for the client to close or reconnect
        (a reconnect authenticates again, and fails once the session is gone).
        """
        for sub in list(self._rooms.get(session_id, ())):
            if sub._offer(DISCONNECT_FRAME):
                self._end(sub, EndReason.SESSION_CLOSED)
            else:
                self._drop(sub)

    def statistics(self) -> HubStatistics:
        connections = {sub for members in self._rooms.values() for sub in members}
        return HubStatistics(
            connections=len(connections),
            rooms=len(self._rooms),
            events=self._events,
            sent=self._sent,
            dropped=self._dropped,
        )

    # -- internals -------------------------------------------------------------------------

    def _emit(
        self, members: set[Subscription] | tuple[()], event: str, args: tuple[object, ...]
    ) -> None:
        if not members:
            return
        frame = encode_event(event, *args)  # encoded once for the whole room
        self._events += 1
        for sub in list(members):
            if sub._offer(frame):
                self._sent += 1
            else:
                self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        if sub.active:
            self._dropped += 1
        self._end(sub, EndReason.SLOW)

    def _end(self, sub: Subscription, reason: EndReason) -> None:
        if not sub.active:
            return
        sub.end_reason = reason
        sub._ended.set()
        for room in sub.rooms:
            members = self._rooms.get(room)
            if members is not None:
                members.discard(sub)
                if not members:
                    del self._rooms[room]
        sub._send.close()
