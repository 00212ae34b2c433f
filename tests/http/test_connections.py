"""Raw-socket guard rail for connection handling: keep-alive after every early answer,
pipelining, a client vanishing mid-response (issue 7, defect 2)."""

from __future__ import annotations

from functools import partial
from importlib.metadata import version

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from immich_trio.http import hypercorn_patches
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser

CAP = 10  # seconds: a hung connection fails the test instead of the run

BODY = b'{"albumName":"x","name":"x","email":"a@b.c","password":"p","ids":[]}'


async def serve(app: QuartTrio, nursery: trio.Nursery) -> int:
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn_serve, app, config))
    return int(binds[0].rsplit(":", 1)[1])


@pytest.fixture
async def port(runtime: Runtime, nursery: trio.Nursery) -> int:
    return await serve(create_app(runtime), nursery)


def head(method: str, path: str, length: int, token: str | None = None, **extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json", f"Content-Length: {length}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reader:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def response(self) -> tuple[int, dict[bytes, bytes], bytes] | None:
        """One response, or None when the server closed the connection first."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return None
            self.buffer += chunk
        top, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = top.split(b"\r\n")
        headers = {k.strip().lower(): v.strip().lower() for k, _, v in (line.partition(b":") for line in lines)}
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            chunk = await self.stream.receive_some(65536)
            assert chunk, "connection closed inside a response"
            self.buffer += chunk
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split(b" ")[1]), headers, body

    async def closed(self) -> bool:
        try:
            return await self.stream.receive_some(1) == b""
        except trio.BrokenResourceError:
            return True


async def early_answer_then_next(
    port: int, first: bytes, body: bytes, token: str | None, delay: float | None = None
) -> int:
    """Send ``first`` and its body (after the answer when ``delay`` is None, else ``delay``
    seconds after the headers: the body then races the early answer), then a second request
    on the same connection: it must be answered, or the first answer said it closes."""
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        reader = Reader(stream)
        await stream.send_all(first)
        if delay is not None:
            await trio.sleep(delay)
            await stream.send_all(body)
        answer = await reader.response()
        assert answer is not None
        status, headers, _ = answer
        if headers.get(b"connection") == b"close":
            assert await reader.closed()
            return status
        if delay is None:
            await stream.send_all(body)
        await stream.send_all(head("GET", "/api/server/ping", 0))
        second = await reader.response()
        assert second is not None and second[0] == 200, second
        await stream.aclose()
        return status


async def test_keep_alive_after_every_early_answer(port: int, make_user: MakeUser) -> None:
    user = await make_user("conn@example.com")
    n = len(BODY)
    cases = [
        (401, head("POST", "/api/albums", n), None),
        (403, head("POST", "/api/admin/users", n, user.token), user.token),
        (404, head("POST", "/api/no-such-route", n, user.token), user.token),
        (400, head("PATCH", "/api/albums/not-a-uuid", n, user.token), user.token),
    ]
    for expected, first, token in cases:
        for delay in (None, 0, 0.001, 0.001, 0.001, 0.005):
            assert await early_answer_then_next(port, first, BODY, token, delay) == expected


async def test_too_large_body_answers_413_and_closes(port: int, make_user: MakeUser) -> None:
    user = await make_user("big@example.com")
    first = head("POST", "/api/albums", 64 * 1024 * 1024, user.token)
    assert await early_answer_then_next(port, first, b"", user.token) == 413


async def test_bare_quart_trio_app_keeps_connections(nursery: trio.Nursery) -> None:
    """The library defect itself: a bare Quart-Trio app answering before reading the body."""
    app = QuartTrio(__name__)

    @app.route("/x", methods=["POST"])
    async def early() -> tuple[str, int]:
        return "no", 401

    @app.route("/api/server/ping", methods=["GET"])
    async def ping() -> str:
        return "pong"

    bare = await serve(app, nursery)
    for i in range(40):  # unpatched, about one in three hangs
        delay = None if i % 4 == 0 else 0.001
        assert await early_answer_then_next(bare, head("POST", "/x", len(BODY)), BODY, None, delay) == 401


async def test_pipelined_requests_are_answered_in_order(port: int, make_user: MakeUser) -> None:
    user = await make_user("pipe@example.com")
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        reader = Reader(stream)
        await stream.send_all(
            head("POST", "/api/albums", len(BODY)) + BODY
            + head("GET", "/api/server/ping", 0)
            + head("GET", "/api/users/me", 0, user.token)
        )
        statuses = []
        for _ in range(3):
            answer = await reader.response()
            assert answer is not None
            statuses.append(answer[0])
        assert statuses == [401, 200, 200]


async def test_client_vanishing_mid_response_leaves_server_healthy(port: int, make_user: MakeUser) -> None:
    user = await make_user("gone@example.com")
    with trio.fail_after(CAP):
        for _ in range(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(head("GET", "/api/server/version-history", 0, user.token))
            await stream.aclose()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        reader = Reader(stream)
        await stream.send_all(head("GET", "/api/server/ping", 0))
        answer = await reader.response()
        assert answer is not None and answer[0] == 200


def test_hypercorn_patch_is_pinned_to_the_version_it_was_written_for() -> None:
    # The patch replaces Hypercorn internals: re-check it (and docs/upstream-reports.md) on upgrade.
    assert version("hypercorn") == hypercorn_patches.PINNED_HYPERCORN


async def test_chunked_json_over_the_limit_answers_413(port: int, make_user: MakeUser) -> None:
    user = await make_user("chunked@example.com")
    lines = ["POST /api/albums HTTP/1.1", "Host: localhost", "Content-Type: application/json",
             "Transfer-Encoding: chunked", f"Authorization: Bearer {user.token}"]
    chunk = b"[" + b"1," * (512 * 1024)
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        reader = Reader(stream)

        async def push() -> None:
            try:
                await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
                for _ in range(12):  # 12 MiB, over the 10 MiB JSON limit
                    await stream.send_all(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the server closed after answering: expected

        async with trio.open_nursery() as nursery:
            nursery.start_soon(push)
            answer = await reader.response()
            nursery.cancel_scope.cancel()
        assert answer is not None and answer[0] == 413


@pytest.fixture
async def slow_port(nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> int:
    """A bare app with the slow-sender limits shrunk to fractions of a second."""
    monkeypatch.setattr(hypercorn_patches, "HEADER_TIMEOUT", 0.5)
    monkeypatch.setattr(hypercorn_patches, "BODY_RATE_WINDOW", 0.5)
    monkeypatch.setattr(hypercorn_patches, "MIN_BODY_RATE", 400)  # 200 bytes per window
    app = QuartTrio(__name__)

    @app.route("/upload", methods=["POST"])
    async def upload() -> str:
        from quart import request

        return str(len(await request.get_data()))

    return await serve(app, nursery)


async def trickle(stream: trio.SocketStream, data: bytes, size: int, pause: float) -> bool:
    """Send ``data`` ``size`` bytes at a time; False when the server closed the connection."""
    try:
        for i in range(0, len(data), size):
            await stream.send_all(data[i : i + size])
            await trio.sleep(pause)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    return True


async def test_slowloris_headers_are_cut(slow_port: int) -> None:
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", slow_port)
        reader = Reader(stream)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle, stream, b"GET /upload HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100, 1, 0.05)
            assert await reader.closed()
            nursery.cancel_scope.cancel()


async def test_body_below_the_minimum_rate_is_cut(slow_port: int) -> None:
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", slow_port)
        reader = Reader(stream)
        await stream.send_all(head("POST", "/upload", 1000))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle, stream, b"x" * 1000, 10, 0.1)  # 100 bytes/s < 400
            assert await reader.closed()
            nursery.cancel_scope.cancel()


async def test_long_body_above_the_minimum_rate_completes(slow_port: int) -> None:
    # 40 bytes every 0.05 s: about 800 bytes/s for ~2 s, four times the window
    body = b"x" * 1600
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", slow_port)
        reader = Reader(stream)
        await stream.send_all(head("POST", "/upload", len(body)))
        assert await trickle(stream, body, 40, 0.05)
        answer = await reader.response()
        assert answer is not None and answer[0] == 200 and answer[2] == b"1600"
        # the kept-alive connection still serves the next request
        await stream.send_all(head("POST", "/upload", 2) + b"ab")
        answer = await reader.response()
        assert answer is not None and answer[2] == b"2"


async def test_idle_kept_alive_connection_is_not_cut_by_the_header_timeout(slow_port: int) -> None:
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", slow_port)
        reader = Reader(stream)
        await stream.send_all(head("POST", "/upload", 1) + b"a")
        assert (await reader.response() or (0,))[0] == 200
        await trio.sleep(1.0)  # idle between requests: the keep-alive timeout's business
        await stream.send_all(head("POST", "/upload", 1) + b"a")
        assert (await reader.response() or (0,))[0] == 200


async def test_client_vanishing_mid_streamed_response_ends_the_stream(nursery: trio.Nursery) -> None:
    app = QuartTrio(__name__)
    finished = trio.Event()

    @app.route("/big", methods=["GET"])
    async def big() -> object:
        async def chunks() -> object:
            try:
                for _ in range(10_000):
                    yield b"x" * 65536
            finally:
                finished.set()

        return chunks()

    @app.route("/api/server/ping", methods=["GET"])
    async def ping() -> str:
        return "pong"

    port = await serve(app, nursery)
    with trio.fail_after(CAP):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(head("GET", "/big", 0))
        assert await stream.receive_some(65536)
        await stream.aclose()
        await finished.wait()  # the response generator was closed, not left writing
        assert await early_answer_then_next(port, head("GET", "/api/server/ping", 0), b"", None) == 200


def test_slow_sender_guard_measures_waiting_not_duration() -> None:
    import h11

    guard = hypercorn_patches.SlowSenderGuard()
    connection = h11.Connection(h11.SERVER)

    class Protocol:
        pass

    protocol = Protocol()
    protocol.connection = connection  # type: ignore[attr-defined]
    guard.observe(protocol)
    assert guard.time_left() == float("inf")  # idle between requests: no read limit
    connection.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\n")
    connection.next_event()
    guard.observe(protocol)
    guard.record(20, 59.0)
    assert guard.phase == "headers" and guard.time_left() == pytest.approx(hypercorn_patches.HEADER_TIMEOUT - 59)
    connection.receive_data(b"Content-Length: 10000000\r\n\r\n")
    connection.next_event()
    guard.observe(protocol)
    assert guard.phase == "body" and guard.time_left() == hypercorn_patches.BODY_RATE_WINDOW
    window = hypercorn_patches.BODY_RATE_WINDOW
    for _ in range(100):  # a long upload at twice the minimum rate never runs out of time
        guard.record(int(2 * hypercorn_patches.MIN_BODY_RATE * window / 4), window / 4)
        assert guard.time_left() > 0
    guard.record(1, window)  # a stalled window
    assert guard.time_left() <= 0
