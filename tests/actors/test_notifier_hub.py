"""The notifier's hub (rooms, fan-out, slow consumers) and its Engine.IO timing on MockClock."""

from __future__ import annotations

import json

import attrs
import pytest
import trio
import trio.testing

from immich_trio.actors.notifier import CloseReason, EndReason, Hub, HubStatistics, serve_engineio
from immich_trio.actors.notifier.engineio import (
    CONNECT_TIMEOUT,
    PING_INTERVAL,
    PING_TIMEOUT,
    decode_socketio,
)

VERSION_FRAME = '42["on_server_version",{"major":3,"minor":1,"patch":0,"prerelease":null}]'
FAKE_BUFFER = 64  # frames either side of the fake websocket holds


def drain(sub: object) -> list[str]:
    """Every frame queued for a subscription right now."""
    frames = []
    receive = sub._receive  # type: ignore[attr-defined]
    while True:
        try:
            frames.append(receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return frames


# -- hub ------------------------------------------------------------------------------------


async def test_attach_sends_server_version_to_the_user_room() -> None:
    hub = Hub()
    phone = hub.attach(user_id="u1", session_id="s1")
    assert drain(phone) == [VERSION_FRAME]
    laptop = hub.attach(user_id="u1", session_id="s2")
    # As Immich: the version goes to the user room, so the phone hears it again.
    assert drain(phone) == [VERSION_FRAME]
    assert drain(laptop) == [VERSION_FRAME]


async def test_release_notice_follows_the_version_on_connect() -> None:
    hub = Hub()
    hub.set_release_notice({"isAvailable": True})
    sub = hub.attach(user_id="u1", session_id=None)
    assert drain(sub) == [VERSION_FRAME, '42["on_new_release",{"isAvailable":true}]']


async def test_rooms_route_events() -> None:
    hub = Hub()
    a1 = hub.attach(user_id="a", session_id="sa1")
    a2 = hub.attach(user_id="a", session_id="sa2")
    key = hub.attach(user_id="a", session_id=None)  # API key login: no session room
    b = hub.attach(user_id="b", session_id="sb")
    for sub in (a1, a2, key, b):
        drain(sub)

    hub.emit_to_user("a", "on_asset_trash", ["x", "y"])
    hub.emit_to_session("sa2", "on_session_delete", "sa2")
    hub.broadcast("on_config_update")
    hub.emit_to_user("nobody", "on_asset_delete", "z")

    trash = '42["on_asset_trash",["x","y"]]'
    config = '42["on_config_update"]'
    assert drain(a1) == [trash, config]
    assert drain(a2) == [trash, '42["on_session_delete","sa2"]', config]
    assert drain(key) == [trash, config]
    assert drain(b) == [config]


async def test_non_ascii_payload_is_sent_as_is() -> None:
    hub = Hub()
    sub = hub.attach(user_id="u", session_id=None)
    drain(sub)
    hub.emit_to_user("u", "on_notification", {"title": "Été"})
    assert drain(sub) == ['42["on_notification",{"title":"Été"}]']


async def test_slow_consumer_is_dropped_without_blocking_the_publisher() -> None:
    hub = Hub(queue_size=3)
    slow = hub.attach(user_id="u", session_id="s1")  # never reads: version is queued
    fast = hub.attach(user_id="u", session_id="s2")
    drain(fast)
    for n in range(5):
        hub.emit_to_user("u", "on_asset_delete", str(n))  # sync: cannot block
        drain(fast)
    assert slow.end_reason is EndReason.SLOW
    assert fast.active
    with pytest.raises(trio.EndOfChannel):
        await slow.receive()  # its backlog is discarded, not sent
    stats = hub.statistics()
    assert stats.dropped == 1
    assert stats.connections == 1
    assert stats.rooms == 2  # u and s2


async def test_disconnect_session_sends_41_after_what_was_queued() -> None:
    hub = Hub()
    ended = hub.attach(user_id="u", session_id="s1")
    kept = hub.attach(user_id="u", session_id="s2")
    drain(ended)
    drain(kept)
    hub.emit_to_session("s1", "on_session_delete", "s1")
    hub.disconnect_session("s1")
    assert await ended.receive() == '42["on_session_delete","s1"]'
    assert await ended.receive() == "41"
    with pytest.raises(trio.EndOfChannel):
        await ended.receive()
    assert ended.end_reason is EndReason.SESSION_CLOSED
    hub.emit_to_user("u", "on_config_update")
    assert drain(kept) == ['42["on_config_update"]']


async def test_statistics() -> None:
    hub = Hub()
    assert hub.statistics() == HubStatistics(connections=0, rooms=0, events=0, sent=0, dropped=0)
    a = hub.attach(user_id="a", session_id="sa")
    hub.attach(user_id="b", session_id=None)
    hub.broadcast("on_config_update")
    stats = hub.statistics()
    # Two on_server_version events (one socket each) and one broadcast to two sockets.
    assert stats == HubStatistics(connections=2, rooms=3, events=3, sent=4, dropped=0)
    a.detach()
    a.detach()  # idempotent
    assert hub.statistics().connections == 1
    assert hub.statistics().rooms == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.sent = 0  # type: ignore[misc]


async def test_non_json_argument_fails_in_the_caller() -> None:
    hub = Hub()
    hub.attach(user_id="u", session_id=None)
    with pytest.raises(TypeError):
        hub.emit_to_user("u", "on_asset_update", object())


# -- socket.io decoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", (0, "/", None, None)),
        ('0{"token":"t"}', (0, "/", None, {"token": "t"})),
        ("0/admin,", (0, "/admin", None, None)),
        ('2["hello",1]', (2, "/", None, ["hello", 1])),
        ('21["x"]', (2, "/", 1, ["x"])),
        ("2[7]", (2, "/", None, [7])),
        ('2/admin,7["x"]', (2, "/admin", 7, ["x"])),
        ('51-["x",{"_placeholder":true,"num":0}]', (5, "/", None, None)),
        ("1", (1, "/", None, None)),
    ],
)
def test_decode_socketio(text: str, expected: tuple[int, str, int | None, object]) -> None:
    packet = decode_socketio(text)
    kind, namespace, ack_id, data = expected
    assert (packet.type, packet.namespace, packet.ack_id) == (kind, namespace, ack_id)
    if data is not None:
        assert packet.data == data


@pytest.mark.parametrize(
    "text", ["", "9", "garbage", "2[", "2", "2[true]", '2["disconnect"]', "1{}", "5[]", "0[]"]
)
def test_decode_socketio_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        decode_socketio(text)


# -- Engine.IO over a fake websocket, on MockClock -----------------------------------------


@attrs.frozen
class Who:
    user_id: str
    session_id: str | None


class FakeWebSocket:
    """An in-memory websocket: the server's end plus helpers for the client's end."""

    def __init__(self, *, client_buffer: int = FAKE_BUFFER) -> None:
        self._to_client_send, self.to_client = trio.open_memory_channel[str](client_buffer)
        self.to_server, self._to_server_receive = trio.open_memory_channel[str | bytes](FAKE_BUFFER)

    async def send(self, data: str) -> None:
        await self._to_client_send.send(data)

    async def receive(self) -> str | bytes:
        return await self._to_server_receive.receive()


class Served:
    def __init__(self) -> None:
        self.reason: CloseReason | None = None
        self.done = trio.Event()
        self.closed_at = 0.0


def serve(nursery: trio.Nursery, ws: FakeWebSocket, hub: Hub, *, authorized: bool = True) -> Served:
    served = Served()

    async def authenticate() -> Who:
        if not authorized:
            raise PermissionError("bad token")
        return Who("u1", "s1")

    async def run() -> None:
        served.reason = await serve_engineio(ws, hub=hub, authenticate=authenticate)
        served.closed_at = trio.current_time()
        served.done.set()

    nursery.start_soon(run)
    return served


async def open_connection(ws: FakeWebSocket) -> dict[str, object]:
    frame = await ws.to_client.receive()
    assert frame[0] == "0"
    handshake: dict[str, object] = json.loads(frame[1:])
    return handshake


async def test_open_packet(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    ws = FakeWebSocket()
    serve(nursery, ws, Hub())
    handshake = await open_connection(ws)
    assert list(handshake) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert handshake["upgrades"] == []
    assert (handshake["pingInterval"], handshake["pingTimeout"]) == (25000, 20000)
    assert handshake["maxPayload"] == 1_000_000
    assert isinstance(handshake["sid"], str) and len(handshake["sid"]) == 20


async def test_ping_every_interval_and_close_without_pong(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = FakeWebSocket()
    served = serve(nursery, ws, Hub())
    start = trio.current_time()
    await open_connection(ws)
    await ws.to_server.send("40")
    assert (await ws.to_client.receive()).startswith("40{")
    assert await ws.to_client.receive() == VERSION_FRAME

    assert await ws.to_client.receive() == "2"
    assert trio.current_time() - start == PING_INTERVAL
    await trio.sleep(5)
    await ws.to_server.send("3")
    # The next ping comes one interval after the pong, as engine.io does.
    assert await ws.to_client.receive() == "2"
    assert trio.current_time() - start == PING_INTERVAL + 5 + PING_INTERVAL
    ping_time = trio.current_time()

    await served.done.wait()  # no pong this time
    assert served.reason is CloseReason.PING_TIMEOUT
    assert served.closed_at - ping_time == PING_TIMEOUT


async def test_another_packet_extends_the_pong_wait_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = FakeWebSocket()
    served = serve(nursery, ws, Hub())
    await open_connection(ws)
    await ws.to_server.send("40")
    await ws.to_client.receive()
    await ws.to_client.receive()
    assert await ws.to_client.receive() == "2"
    ping_time = trio.current_time()
    await trio.sleep(10)
    await ws.to_server.send('42["ignored"]')  # restarts the 20 s wait
    await trio.sleep(1)
    await ws.to_server.send("6")  # only once
    await served.done.wait()
    assert served.reason is CloseReason.PING_TIMEOUT
    assert served.closed_at - ping_time == 10 + PING_TIMEOUT


async def test_client_not_reading_is_closed_by_the_ping_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = FakeWebSocket(client_buffer=0)  # every send waits for the client to read
    served = serve(nursery, ws, Hub())
    await open_connection(ws)
    await ws.to_server.send("40")
    assert (await ws.to_client.receive()).startswith("40{")
    # The client stops reading: the version frame, then the ping, can't go out.
    await served.done.wait()
    assert served.reason is CloseReason.PING_TIMEOUT
    assert served.closed_at == pytest.approx(PING_INTERVAL + PING_TIMEOUT)


async def test_no_namespace_within_connect_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = FakeWebSocket()
    served = serve(nursery, ws, Hub())
    start = trio.current_time()
    await open_connection(ws)
    assert await ws.to_client.receive() == "2"
    await ws.to_server.send("3")
    await served.done.wait()
    assert served.reason is CloseReason.CONNECT_TIMEOUT
    assert served.closed_at - start == CONNECT_TIMEOUT


async def test_events_flow_and_client_disconnect_leaves_the_rooms(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub()
    ws = FakeWebSocket()
    served = serve(nursery, ws, hub)
    await open_connection(ws)
    await ws.to_server.send("40")
    connect = await ws.to_client.receive()
    assert connect.startswith('40{"sid":"')
    assert await ws.to_client.receive() == VERSION_FRAME
    hub.emit_to_user("u1", "on_asset_delete", "a1")
    hub.emit_to_session("s1", "on_session_delete", "s1")
    assert await ws.to_client.receive() == '42["on_asset_delete","a1"]'
    assert await ws.to_client.receive() == '42["on_session_delete","s1"]'

    await ws.to_server.send("41")
    await trio.testing.wait_all_tasks_blocked()
    assert hub.statistics().connections == 0
    assert not served.done.is_set()  # the engine stays up, as socket.io does

    await ws.to_server.send("1")
    await served.done.wait()
    assert served.reason is CloseReason.CLIENT_CLOSE


async def test_unauthorized_gets_error_then_disconnect(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub()
    ws = FakeWebSocket()
    served = serve(nursery, ws, hub, authorized=False)
    await open_connection(ws)
    await ws.to_server.send("40")
    assert (await ws.to_client.receive()).startswith('40{"sid":"')
    assert await ws.to_client.receive() == '42["error","unauthorized"]'
    assert await ws.to_client.receive() == "41"
    assert hub.statistics().connections == 0
    # socket.io closes the connection when the client then talks to the namespace.
    await ws.to_server.send('42["x"]')
    await served.done.wait()
    assert served.reason is CloseReason.INVALID_STATE


async def test_logout_disconnects_the_session_socket(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub()
    ws = FakeWebSocket()
    serve(nursery, ws, hub)
    await open_connection(ws)
    await ws.to_server.send("40")
    await ws.to_client.receive()
    await ws.to_client.receive()
    hub.emit_to_session("s1", "on_session_delete", "s1")
    hub.disconnect_session("s1")
    assert await ws.to_client.receive() == '42["on_session_delete","s1"]'
    assert await ws.to_client.receive() == "41"
    # The namespace is over: the client may connect again (and authenticate again).
    await ws.to_server.send("40")
    assert (await ws.to_client.receive()).startswith('40{"sid":"')
    assert await ws.to_client.receive() == VERSION_FRAME


async def test_slow_socket_is_closed(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    hub = Hub(queue_size=2)
    ws = FakeWebSocket(client_buffer=0)
    served = serve(nursery, ws, hub)
    await open_connection(ws)
    await ws.to_server.send("40")
    await ws.to_client.receive()
    await trio.testing.wait_all_tasks_blocked()  # the version frame is stuck in send()
    for n in range(3):
        hub.emit_to_user("u1", "on_asset_delete", str(n))
    await served.done.wait()
    assert served.reason is CloseReason.SLOW_CONSUMER
    assert trio.current_time() < PING_INTERVAL
    assert hub.statistics().dropped == 1


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (["bogus"], CloseReason.PARSE_ERROR),
        (["4garbage"], CloseReason.PARSE_ERROR),
        (['42["x"]'], CloseReason.INVALID_STATE),  # namespace not connected
        (["40", "40"], CloseReason.INVALID_STATE),  # second CONNECT
        (["41"], CloseReason.INVALID_STATE),
        (["2"], CloseReason.TRANSPORT_ERROR),  # v4 clients never ping
        ([b"\x01"], CloseReason.PARSE_ERROR),
        (["4" + "x" * 1_000_000], CloseReason.MESSAGE_TOO_BIG),
    ],
)
async def test_protocol_errors_close(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    frames: list[str | bytes],
    reason: CloseReason,
) -> None:
    ws = FakeWebSocket()
    served = serve(nursery, ws, Hub())
    await open_connection(ws)
    for frame in frames:
        await ws.to_server.send(frame)
    await served.done.wait()
    assert served.reason is reason


async def test_other_namespace_gets_connect_error(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = FakeWebSocket()
    serve(nursery, ws, Hub())
    await open_connection(ws)
    await ws.to_server.send("40/admin,")
    assert await ws.to_client.receive() == '44/admin,{"message":"Invalid namespace"}'
    # Ignored: noop, upgrade, events and acks from clients, binary attachments.
    for frame in ["6", "5", "40", '42["hi"]', "431[]", '451-["up",{"_placeholder":true,"num":0}]']:
        await ws.to_server.send(frame)
    await ws.to_server.send(b"attachment")
    assert (await ws.to_client.receive()).startswith("40{")
    assert await ws.to_client.receive() == VERSION_FRAME


async def test_cancelled_connection_leaves_the_rooms(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub()
    ws = FakeWebSocket()
    async with trio.open_nursery() as nursery:
        serve(nursery, ws, hub)
        await open_connection(ws)
        await ws.to_server.send("40")
        await ws.to_client.receive()
        await ws.to_client.receive()
        assert hub.statistics().connections == 1
        nursery.cancel_scope.cancel()  # what Quart does when the client goes away
    assert hub.statistics().connections == 0
