"""socket.io at /api/socket.io end to end: a real Hypercorn (trio worker), real clients.

Real sockets and threads: real clock, every wait capped with `trio.fail_after`.
"""

from __future__ import annotations

import importlib.util
import json
import queue
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

import attrs
import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio
from trio_websocket import ConnectionRejected, WebSocketConnection, open_websocket_url

from immich_trio.actors.notifier import Hub
from immich_trio.http.socketio import register_socketio

CAP = 10  # seconds any single test step may take
VERSION = {"major": 3, "minor": 1, "patch": 0, "prerelease": None}
GOOD = {"authorization": "Bearer good-token"}
HAS_WEBSOCKET_CLIENT = importlib.util.find_spec("websocket") is not None
needs_websocket_client = pytest.mark.skipif(
    not HAS_WEBSOCKET_CLIENT,
    reason="python-socketio's sync client needs websocket-client for the websocket transport",
)
BAD = {"authorization": "Bearer expired-token"}


@attrs.frozen
class Who:
    user_id: str
    session_id: str | None


class Unauthorized(Exception):
    pass


async def authenticate(headers: Mapping[str, str]) -> Who:
    """Stands in for the HTTP layer's authentication (handshake headers only)."""
    if headers.get("authorization") == "Bearer good-token":
        return Who("user-1", "session-1")
    if headers.get("x-api-key") == "good-key":
        return Who("user-1", None)
    raise Unauthorized("invalid credentials")


@attrs.frozen
class Server:
    hub: Hub
    port: int

    def url(self, path: str = "/api/socket.io/", *, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[Server]:
    hub = Hub()
    app = QuartTrio(__name__)
    register_socketio(app, hub=hub, authenticate=authenticate)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.graceful_timeout = 1
    shutdown = trio.Event()
    with trio.fail_after(CAP):
        binds = await nursery.start(partial(serve, app, config, shutdown_trigger=shutdown.wait))
    yield Server(hub=hub, port=int(binds[0].rsplit(":", 1)[1]))
    shutdown.set()


def ws_url(
    server: Server, path: str = "/api/socket.io/", query: str = "EIO=4&transport=websocket"
) -> str:
    return server.url(path, scheme="ws") + "?" + query


def as_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


async def next_message(ws: WebSocketConnection) -> str:
    with trio.fail_after(CAP):
        message = await ws.get_message()
    assert isinstance(message, str)
    return message


# -- the HTTP side --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/socket.io/", "/api/socket.io"])
async def test_polling_transport_is_refused(server: Server, path: str) -> None:
    async with httpx.AsyncClient() as http:
        with trio.fail_after(CAP):
            for method in ("GET", "POST"):
                response = await http.request(method, server.url(path) + "?EIO=4&transport=polling")
                assert response.status_code == 400
                assert response.headers["content-type"] == "application/json"
                assert response.text == '{"code":0,"message":"Transport unknown"}'
            # transport=websocket on a plain request, as engine.io answers it.
            response = await http.get(server.url(path) + "?EIO=4&transport=websocket")
            assert response.status_code == 400
            assert response.text == '{"code":3,"message":"Bad request"}'


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("EIO=3&transport=websocket", b"Unsupported protocol version"),
        ("transport=websocket", b"Unsupported protocol version"),
        ("EIO=4&transport=websocket&sid=abc", b"Session ID unknown"),
        ("EIO=4&transport=polling", b"Transport unknown"),
    ],
)
async def test_refused_upgrades(server: Server, query: str, body: bytes) -> None:
    with trio.fail_after(CAP), pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(ws_url(server, query=query)):
            pass
    assert rejected.value.status_code == 400
    assert rejected.value.body == body


# -- the frames, with a plain websocket client ---------------------------------------------


@pytest.mark.parametrize("path", ["/api/socket.io/", "/api/socket.io"])
async def test_connect_frames_and_events(server: Server, path: str) -> None:
    with trio.fail_after(CAP):
        async with open_websocket_url(ws_url(server, path), extra_headers=as_headers(GOOD)) as ws:
            handshake = await next_message(ws)
            assert handshake.startswith("0")
            opened = json.loads(handshake[1:])
            assert opened == {
                "sid": opened["sid"],
                "upgrades": [],
                "pingInterval": 25000,
                "pingTimeout": 20000,
                "maxPayload": 1000000,
            }
            await ws.send_message("40")
            connected = await next_message(ws)
            assert connected.startswith("40")
            assert list(json.loads(connected[2:])) == ["sid"]
            assert await next_message(ws) == "42" + json.dumps(
                ["on_server_version", VERSION], separators=(",", ":")
            )

            server.hub.emit_to_user("user-1", "on_asset_trash", ["a", "b"])
            assert await next_message(ws) == '42["on_asset_trash",["a","b"]]'
            server.hub.emit_to_session("session-1", "on_session_delete", "session-1")
            server.hub.disconnect_session("session-1")
            assert await next_message(ws) == '42["on_session_delete","session-1"]'
            assert await next_message(ws) == "41"
            assert server.hub.statistics().connections == 0


async def test_bad_credential_is_disconnected(server: Server) -> None:
    with trio.fail_after(CAP):
        async with open_websocket_url(ws_url(server), extra_headers=as_headers(BAD)) as ws:
            await next_message(ws)
            await ws.send_message('40{"token":"good-token"}')  # only headers count
            assert (await next_message(ws)).startswith('40{"sid":')
            assert await next_message(ws) == '42["error","unauthorized"]'
            assert await next_message(ws) == "41"
            assert server.hub.statistics().connections == 0


async def test_client_closing_the_socket_leaves_the_rooms(server: Server) -> None:
    with trio.fail_after(CAP):
        async with open_websocket_url(ws_url(server), extra_headers=as_headers(GOOD)) as ws:
            await next_message(ws)
            await ws.send_message("40")
            await next_message(ws)
            await next_message(ws)
            assert server.hub.statistics().connections == 1
        # The server notices the close on its own time; the hub only offers snapshots.
        while server.hub.statistics().connections:  # noqa: ASYNC110
            await trio.sleep(0.01)


# -- python-socketio's client --------------------------------------------------------------


async def _get(events: queue.Queue[tuple[str, Any]]) -> tuple[str, Any]:
    return await trio.to_thread.run_sync(partial(events.get, timeout=CAP), abandon_on_cancel=True)


def _socketio_client(events: queue.Queue[tuple[str, Any]]) -> Any:
    import socketio

    client = socketio.Client(reconnection=False)
    for name in ("on_server_version", "on_asset_trash", "error"):
        client.on(name, partial(lambda name, *args: events.put((name, list(args))), name))
    client.on("disconnect", lambda *args: events.put(("disconnect", list(args))))
    return client


def _connect(client: Any, server: Server, headers: Mapping[str, str]) -> None:
    client.connect(
        server.url(""),
        socketio_path="/api/socket.io",
        transports=["websocket"],
        headers=dict(headers),
        wait_timeout=CAP,
    )


@needs_websocket_client
async def test_python_socketio_client_receives_events(server: Server) -> None:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = _socketio_client(events)
    with trio.fail_after(CAP):
        await trio.to_thread.run_sync(_connect, client, server, GOOD)
        try:
            assert await _get(events) == ("on_server_version", [VERSION])
            server.hub.emit_to_user("user-1", "on_asset_trash", ["a", "b"])
            assert await _get(events) == ("on_asset_trash", [["a", "b"]])
        finally:
            await trio.to_thread.run_sync(client.disconnect)


@needs_websocket_client
async def test_python_socketio_client_bad_credential(server: Server) -> None:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = _socketio_client(events)
    with trio.fail_after(CAP):
        await trio.to_thread.run_sync(_connect, client, server, BAD)
        try:
            assert await _get(events) == ("error", ["unauthorized"])
            name, _ = await _get(events)
            assert name == "disconnect"
        finally:
            await trio.to_thread.run_sync(client.disconnect)
