"""Engine.IO v4 + socket.io v5 over one websocket, as Immich's server speaks it.

Websocket transport only, namespace `/` only, server-initiated heartbeat. Pure Trio over an
abstract websocket (`send`/`receive`), so the timing runs on `MockClock` in tests.
Behaviour on odd input follows socket.io 4.8 (measured): a packet it cannot parse, a packet
for a namespace that is not connected, or a second CONNECT closes the connection.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs
import trio

from immich_trio.actors.notifier.hub import EndReason, Hub, Subscription, encode_event

log = logging.getLogger(__name__)

# socket.io's defaults, which Immich keeps (realtime.md).
PING_INTERVAL = 25.0  # seconds between a pong (or the open) and the next ping
PING_TIMEOUT = 20.0  # seconds the client has to answer a ping
MAX_PAYLOAD = 1_000_000  # bytes in one client message
CONNECT_TIMEOUT = 45.0  # seconds to have a namespace connected, else close

NAMESPACE = "/"


class WebSocketLike(Protocol):
    """What the protocol needs from a websocket; closing it is the caller's job on return."""

    async def send(self, data: str) -> None: ...

    async def receive(self) -> str | bytes: ...


class Principal(Protocol):
    """Who authenticated: the rooms a socket joins."""

    @property
    def user_id(self) -> str: ...

    @property
    def session_id(self) -> str | None: ...


#: Checks the handshake credentials; any `Exception` means "unauthenticated".
Authenticator = Callable[[], Awaitable[Principal]]


class CloseReason(enum.Enum):
    """Why the server ended an Engine.IO connection (socket.io's names where it has one)."""

    CLIENT_CLOSE = "forced close"  # the client sent the Engine.IO CLOSE packet
    PING_TIMEOUT = "ping timeout"
    CONNECT_TIMEOUT = "connect timeout"
    PARSE_ERROR = "parse error"
    INVALID_STATE = "invalid state"  # packet for a namespace not connected, second CONNECT
    TRANSPORT_ERROR = "transport error"  # e.g. a ping from a v4 client
    MESSAGE_TOO_BIG = "message too big"
    SLOW_CONSUMER = "slow consumer"  # the hub dropped the socket: its queue was full


class PacketType(enum.IntEnum):
    """socket.io v5 packet types."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_ABSENT = object()
_DIGITS = frozenset("0123456789")
# Event names socket.io refuses from clients.
_RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)


@attrs.frozen(kw_only=True)
class SocketIOPacket:
    type: PacketType
    namespace: str
    ack_id: int | None
    data: object  # `_ABSENT` when the packet has no payload
    attachments: int


def new_sid() -> str:
    """A 20-character url-safe id, the shape socket.io's ids have."""
    return secrets.token_urlsafe(15)


def open_packet(sid: str) -> str:
    handshake = {
        "sid": sid,
        "upgrades": [],
        "pingInterval": int(PING_INTERVAL * 1000),
        "pingTimeout": int(PING_TIMEOUT * 1000),
        "maxPayload": MAX_PAYLOAD,
    }
    return "0" + json.dumps(handshake, separators=(",", ":"))


def decode_socketio(text: str) -> SocketIOPacket:
    """Decode the socket.io part of an Engine.IO MESSAGE; `ValueError` if malformed."""
    if not text or text[0] not in "0123456":
        raise ValueError(f"unknown socket.io packet type in {text[:20]!r}")
    kind = PacketType(int(text[0]))
    pos = 1
    attachments = 0
    if kind in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
        dash = text.find("-", pos)
        if dash <= pos or not set(text[pos:dash]) <= _DIGITS:
            raise ValueError("binary packet without attachment count")
        attachments = int(text[pos:dash])
        pos = dash + 1
    namespace = NAMESPACE
    if text.startswith("/", pos):
        comma = text.find(",", pos)
        end = len(text) if comma < 0 else comma
        namespace = text[pos:end]
        pos = end + 1 if comma >= 0 else end
    start = pos
    while pos < len(text) and text[pos] in _DIGITS:
        pos += 1
    ack_id = int(text[start:pos]) if pos > start else None
    data: object = json.loads(text[pos:]) if pos < len(text) else _ABSENT
    if not _payload_valid(kind, data):
        raise ValueError(f"invalid payload for socket.io {kind.name}")
    return SocketIOPacket(
        type=kind, namespace=namespace, ack_id=ack_id, data=data, attachments=attachments
    )


def _payload_valid(kind: PacketType, data: object) -> bool:
    match kind:
        case PacketType.CONNECT:
            return data is _ABSENT or isinstance(data, dict)
        case PacketType.DISCONNECT:
            return data is _ABSENT
        case PacketType.CONNECT_ERROR:
            return isinstance(data, dict | str)
        case PacketType.EVENT | PacketType.BINARY_EVENT:
            if not isinstance(data, list) or not data or isinstance(data[0], bool):
                return False
            name = data[0]
            return isinstance(name, int) or (isinstance(name, str) and name not in _RESERVED_EVENTS)
        case PacketType.ACK | PacketType.BINARY_ACK:
            return isinstance(data, list)
    return False


async def serve_engineio(
    ws: WebSocketLike, *, hub: Hub, authenticate: Authenticator, sid: str | None = None
) -> CloseReason:
    """Speak Engine.IO/socket.io on an accepted websocket until one side ends it.

    Returns why the server ended the connection; the caller then closes the websocket. If
    the client goes away the caller cancels this, and the socket leaves its rooms either way.
    """
    return await _Connection(ws, hub, authenticate, sid or new_sid()).run()


class _Namespace:
    """The socket.io connection to `/`: authenticating, then forwarding hub frames."""

    def __init__(self) -> None:
        self.sid = new_sid()
        self.auth_scope = trio.CancelScope()
        self.sub: Subscription | None = None


class _Connection:
    def __init__(self, ws: WebSocketLike, hub: Hub, authenticate: Authenticator, sid: str) -> None:
        self._ws = ws
        self._hub = hub
        self._authenticate = authenticate
        self._sid = sid
        self._send_lock = trio.StrictFIFOLock()  # frames go out whole and in order
        self._namespace: _Namespace | None = None
        self._pong = trio.Event()
        self._pong_scope: trio.CancelScope | None = None  # set while a pong is awaited
        self._pong_refreshed = False
        self._attachments_to_skip = 0
        self._close_reason: CloseReason | None = None
        self._scope = trio.CancelScope()

    async def run(self) -> CloseReason:
        try:
            with self._scope:
                await self._send(open_packet(self._sid))
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._heartbeat)
                    nursery.start_soon(self._connect_deadline)
                    await self._read()
        finally:
            if self._namespace is not None and self._namespace.sub is not None:
                self._namespace.sub.detach()
        assert self._close_reason is not None  # only _close() cancels self._scope
        return self._close_reason

    def _close(self, reason: CloseReason) -> None:
        if self._close_reason is None:
            self._close_reason = reason
            log.debug("engine.io %s closed: %s", self._sid, reason.value)
        self._scope.cancel()

    async def _send(self, frame: str) -> None:
        async with self._send_lock:
            await self._ws.send(frame)

    # -- heartbeat -------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(PING_INTERVAL)
            pong = self._pong = trio.Event()
            self._pong_refreshed = False
            with trio.CancelScope(deadline=trio.current_time() + PING_TIMEOUT) as scope:
                self._pong_scope = scope
                await self._send("2")
                await pong.wait()
            self._pong_scope = None
            if not pong.is_set():
                self._close(CloseReason.PING_TIMEOUT)
                return

    def _saw_packet(self) -> None:
        # As engine.io: any other packet while a pong is awaited restarts the wait, once.
        if self._pong_scope is not None and not self._pong_refreshed:
            self._pong_scope.deadline = trio.current_time() + PING_TIMEOUT
            self._pong_refreshed = True

    async def _connect_deadline(self) -> None:
        await trio.sleep(CONNECT_TIMEOUT)
        if self._namespace is None:
            self._close(CloseReason.CONNECT_TIMEOUT)

    # -- incoming --------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self._ws.receive()
            if isinstance(message, bytes):
                # Attachments of a binary event (nobody sends them to Immich): skip them.
                if self._attachments_to_skip:
                    self._attachments_to_skip -= 1
                    continue
                self._close(CloseReason.PARSE_ERROR)
                return
            if len(message) > MAX_PAYLOAD or len(message.encode()) > MAX_PAYLOAD:
                self._close(CloseReason.MESSAGE_TOO_BIG)
                return
            kind, body = message[:1], message[1:]
            if kind == "3":
                self._pong.set()
                continue
            self._saw_packet()
            match kind:
                case "4":
                    await self._on_message(body)
                case "1":
                    self._close(CloseReason.CLIENT_CLOSE)
                    return
                case "2":
                    self._close(CloseReason.TRANSPORT_ERROR)
                    return  # v4 clients never ping
                case "5" | "6":
                    pass  # upgrade / noop: nothing to upgrade from on a websocket
                case _:
                    self._close(CloseReason.PARSE_ERROR)
                    return

    async def _on_message(self, body: str) -> None:
        try:
            packet = decode_socketio(body)
        except ValueError:
            self._close(CloseReason.PARSE_ERROR)
            return
        self._attachments_to_skip = packet.attachments
        if packet.namespace != NAMESPACE:
            if packet.type is PacketType.CONNECT:
                error = {"message": "Invalid namespace"}
                await self._send(
                    f"44{packet.namespace}," + json.dumps(error, separators=(",", ":"))
                )
                return
            self._close(CloseReason.INVALID_STATE)
            return
        namespace = self._namespace
        match packet.type:
            case PacketType.CONNECT if namespace is None:
                namespace = self._namespace = _Namespace()
                await self._send("40" + json.dumps({"sid": namespace.sid}, separators=(",", ":")))
                self._nursery.start_soon(self._serve_namespace, namespace)
            case PacketType.DISCONNECT if namespace is not None:
                self._leave(namespace)
            case (
                PacketType.EVENT | PacketType.ACK | PacketType.BINARY_EVENT | PacketType.BINARY_ACK
            ) if namespace is not None:
                pass  # Immich's clients send no events; ignore any that arrive
            case _:
                self._close(CloseReason.INVALID_STATE)

    def _leave(self, namespace: _Namespace) -> None:
        self._namespace = None
        namespace.auth_scope.cancel()
        if namespace.sub is not None:
            namespace.sub.detach()  # wakes the forwarder with EndOfChannel

    # -- the namespace `/` -----------------------------------------------------------------

    async def _serve_namespace(self, namespace: _Namespace) -> None:
        # As Immich: `40{"sid"}` is already out; authenticate from the handshake headers,
        # join the rooms (the hub then queues on_server_version), or say why and disconnect.
        principal: Principal | None = None
        with namespace.auth_scope:
            try:
                principal = await self._authenticate()
            except Exception as error:
                log.info("websocket %s unauthorized: %s", self._sid, error)
        if self._namespace is not namespace:
            return  # the client left while we were authenticating
        if principal is None:
            self._namespace = None
            await self._send(encode_event("error", "unauthorized"))
            await self._send("41")
            return
        sub = namespace.sub = self._hub.attach(
            user_id=principal.user_id, session_id=principal.session_id
        )
        self._nursery.start_soon(self._close_if_dropped, sub)
        try:
            while True:
                try:
                    frame = await sub.receive()
                except trio.EndOfChannel:
                    break
                await self._send(frame)
        finally:
            sub.detach()
        if self._namespace is namespace:
            self._namespace = None  # the hub disconnected the session: `41` went out last

    async def _close_if_dropped(self, sub: Subscription) -> None:
        # Watches apart from the forwarder, which may be stuck sending to this very client.
        await sub.wait_ended()
        if sub.end_reason is EndReason.SLOW:
            self._close(CloseReason.SLOW_CONSUMER)
