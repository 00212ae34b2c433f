"""A raw HTTP/2 client for connection tests: the ``h2`` state machine over a trio stream, with
a reader task recording what the server sent per stream, and frames written by hand where a
well-behaved client library would refuse (a header block trickled byte by byte); and the
bare app those tests talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import trio
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, Frame, HeadersFrame
from quart import request
from quart_trio import QuartTrio

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@attrs.define
class StreamAnswer:
    status: int | None = None
    body: bytes = b""
    ended: bool = False
    reset: int | None = None  # the server's RST_STREAM error code


def request_headers(method: str, path: str, **extra: str) -> list[tuple[str, str]]:
    headers = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "localhost")]
    return headers + [(k.replace("_", "-"), v) for k, v in extra.items()]


class H2Client:
    def __init__(self, stream: trio.abc.Stream, conn: h2.connection.H2Connection) -> None:
        self.stream = stream
        self.conn = conn
        self.answers: dict[int, StreamAnswer] = {}
        self.goaway: int | None = None  # the GOAWAY's error code
        self.closed = False
        self._changed = trio.Event()
        self._sending = trio.Lock()

    async def flush(self) -> None:
        async with self._sending:
            if data := self.conn.data_to_send():
                await self.stream.send_all(data)

    async def read_forever(self) -> None:
        try:
            while data := await self.stream.receive_some(65536):
                for event in self.conn.receive_data(data):
                    self._record(event)
                await self.flush()
                self._wake()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h2.exceptions.ProtocolError):
            pass
        self.closed = True
        self._wake()

    def _record(self, event: h2.events.Event) -> None:
        stream_id = getattr(event, "stream_id", 0)
        answer = self.answers.setdefault(stream_id, StreamAnswer()) if stream_id else None
        if isinstance(event, h2.events.ResponseReceived) and answer is not None:
            answer.status = int(dict(event.headers)[b":status"])
        elif isinstance(event, h2.events.DataReceived) and answer is not None:
            answer.body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
        elif isinstance(event, h2.events.StreamEnded) and answer is not None:
            answer.ended = True
        elif isinstance(event, h2.events.StreamReset) and answer is not None:
            answer.reset = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    async def request(self, method: str, path: str, *, end: bool = True, **extra: str) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.answers[stream_id] = StreamAnswer()
        self.conn.send_headers(stream_id, request_headers(method, path, **extra), end_stream=end)
        await self.flush()
        return stream_id

    async def send_body(self, stream_id: int, data: bytes, *, end: bool = False) -> None:
        """Send ``data`` as fast as flow control lets it go; stop if the server reset the stream."""
        try:
            await self._send_body(stream_id, data, end=end)
        except h2.exceptions.StreamClosedError:
            pass

    async def _send_body(self, stream_id: int, data: bytes, *, end: bool) -> None:
        while data:
            window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if window <= 0:
                await self.wait_changed()
                continue
            self.conn.send_data(stream_id, data[:window])
            data = data[window:]
            await self.flush()
        if end:
            self.conn.end_stream(stream_id)
            await self.flush()

    async def answer(self, stream_id: int) -> StreamAnswer:
        """Wait until the stream is answered in full, reset, or the connection is gone."""
        answer = self.answers[stream_id]
        while not (answer.ended or answer.reset is not None or self.closed):
            await self.wait_changed()
        return answer

    async def wait_closed(self) -> None:
        while not self.closed:
            await self.wait_changed()


@asynccontextmanager
async def h2_connection(stream: trio.abc.Stream, *, upgrade: bool = False) -> AsyncIterator[H2Client]:
    """An HTTP/2 client on ``stream``: prior knowledge, or ``Upgrade: h2c`` (answered 101;
    the upgrading GET /api/server/ping is stream 1)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client = H2Client(stream, conn)
    if upgrade:
        settings = conn.initiate_upgrade_connection().decode()
        await stream.send_all(
            b"GET /api/server/ping HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: " + settings.encode() + b"\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        client.answers[1] = StreamAnswer()
    else:
        conn.initiate_connection()
    await client.flush()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.read_forever)
        yield client
        nursery.cancel_scope.cancel()
    await stream.aclose()


def header_block_frames(stream_id: int, method: str, path: str, pieces: int) -> list[Frame]:
    """One request's header block cut into a HEADERS frame and ``pieces - 1`` CONTINUATIONs."""
    block = Encoder().encode(request_headers(method, path, x_padding="p" * 200))
    size = -(-len(block) // pieces)
    chunks = [block[i : i + size] for i in range(0, len(block), size)]
    frames: list[Frame] = [HeadersFrame(stream_id, data=chunks[0], flags=["END_STREAM"])]
    frames += [ContinuationFrame(stream_id, data=chunk) for chunk in chunks[1:]]
    frames[-1].flags.add("END_HEADERS")
    return frames


async def read_frames(stream: trio.abc.Stream) -> list[Frame]:
    """Every frame the server sends until it closes the connection (after its SETTINGS)."""
    buffer, frames = b"", []
    while True:
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError:  # a reset after the close: what came before counts
            data = b""
        if not data:
            return frames
        buffer += data
        while len(buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
            if len(buffer) < 9 + length:
                break
            frame.parse_body(memoryview(buffer[9 : 9 + length]))
            frames.append(frame)
            buffer = buffer[9 + length :]


async def connect(port: int) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", port)


class SlowApp:
    """A bare app whose handlers say when they ended."""

    def __init__(self) -> None:
        self.app = QuartTrio(__name__)
        self.ended: list[str] = []
        self.changed = trio.Event()
        self.app.add_url_rule("/upload", "upload", self.upload, methods=["POST"])
        self.app.add_url_rule("/api/server/ping", "ping", self.ping, methods=["GET"])
        self.app.add_url_rule("/big", "big", self.big, methods=["GET"])
        self.app.add_url_rule("/early", "early", self.early, methods=["POST"])

    def _end(self, name: str) -> None:
        self.ended.append(name)
        self.changed.set()
        self.changed = trio.Event()

    async def upload(self) -> str:
        try:
            return str(len(await request.get_data()))
        finally:
            self._end("upload")

    async def ping(self) -> str:
        return "pong"

    async def early(self) -> tuple[str, int]:
        return "no", 401  # before reading the body, as every credential check does

    async def big(self) -> object:
        async def chunks() -> object:
            try:
                for _ in range(10_000):
                    yield b"x" * 65536
            finally:
                self._end("big")

        return chunks()

    async def wait_ended(self, name: str) -> None:
        while name not in self.ended:
            await self.changed.wait()
