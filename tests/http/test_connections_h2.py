"""Raw HTTP/2 guard rail (issue 7, defect 8 on HTTP/2): slow header blocks and bodies are cut
stream by stream, fast ones on the same connection go on, an early answer keeps the
connection, a vanishing client ends its handler. h2c by prior knowledge and by
``Upgrade: h2c`` (what the API port offers), and h2 over TLS (when an operator adds
certificates to Hypercorn's config)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import trio
from h2.errors import ErrorCodes
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from hyperframe.frame import GoAwayFrame, HeadersFrame, RstStreamFrame

from immich_trio.config import Settings
from immich_trio.http import hypercorn_patches
from immich_trio.supervision_tree import serve_http
from tests.http.h2_client import (
    PREFACE,
    H2Client,
    SlowApp,
    connect,
    h2_connection,
    header_block_frames,
    read_frames,
)
from tests.http.test_connections import serve

CAP = 10  # seconds: a hung connection fails the test instead of the run


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hypercorn_patches, "HEADER_TIMEOUT", 0.5)
    monkeypatch.setattr(hypercorn_patches, "BODY_RATE_WINDOW", 0.5)
    monkeypatch.setattr(hypercorn_patches, "MIN_BODY_RATE", 400)  # 200 bytes per window


@pytest.fixture
def slow_app() -> SlowApp:
    return SlowApp()


@pytest.fixture
async def slow_port(small_limits: None, slow_app: SlowApp, nursery: trio.Nursery) -> int:
    return await serve(slow_app.app, nursery)


async def trickle(client: H2Client, stream_id: int, data: bytes, size: int, pause: float) -> None:
    for i in range(0, len(data), size):
        if client.answers[stream_id].reset is not None:
            return
        await client.send_body(stream_id, data[i : i + size])
        await trio.sleep(pause)


async def test_slow_body_stream_is_reset_and_its_handler_ends(slow_port: int, slow_app: SlowApp) -> None:
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client, trio.open_nursery() as nursery:
            slow = await client.request("POST", "/upload", end=False, content_length="1000")
            nursery.start_soon(trickle, client, slow, b"x" * 1000, 10, 0.1)  # 100 bytes/s < 400
            answer = await client.answer(slow)
            assert answer.reset == ErrorCodes.CANCEL and answer.status is None
            await slow_app.wait_ended("upload")
            # the connection still serves another stream
            ping = await client.answer(await client.request("GET", "/api/server/ping"))
            assert (ping.status, ping.body) == (200, b"pong")
            assert client.goaway is None


async def test_fast_big_body_completes_beside_a_slow_stream(slow_port: int, slow_app: SlowApp) -> None:
    big = b"y" * 300_000  # several flow-control windows
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client, trio.open_nursery() as nursery:
            slow = await client.request("POST", "/upload", end=False)
            nursery.start_soon(trickle, client, slow, b"x" * 1000, 5, 0.1)
            fast = await client.request("POST", "/upload", end=False)
            await client.send_body(fast, big, end=True)
            answer = await client.answer(fast)
            assert (answer.status, answer.body, answer.reset) == (200, b"300000", None)
            assert (await client.answer(slow)).reset == ErrorCodes.CANCEL


async def test_long_body_above_the_minimum_rate_completes(slow_port: int) -> None:
    # 40 bytes every 0.05 s: about 800 bytes/s for ~2 s, four times the window
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client:
            stream_id = await client.request("POST", "/upload", end=False)
            await trickle(client, stream_id, b"x" * 1600, 40, 0.05)
            await client.send_body(stream_id, b"", end=True)
            answer = await client.answer(stream_id)
            assert (answer.status, answer.body, answer.reset) == (200, b"1600", None)


async def test_stalled_header_block_resets_its_stream_and_closes(slow_port: int) -> None:
    frames = header_block_frames(1, "POST", "/upload", pieces=20)
    with trio.fail_after(CAP):
        stream = await connect(slow_port)
        await stream.send_all(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        async with trio.open_nursery() as nursery:

            async def send_slowly() -> None:
                try:
                    for frame in frames:
                        await stream.send_all(frame.serialize())
                        await trio.sleep(0.1)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

            nursery.start_soon(send_slowly)
            received = await read_frames(stream)
            nursery.cancel_scope.cancel()
    resets = [f for f in received if isinstance(f, RstStreamFrame)]
    goaways = [f for f in received if isinstance(f, GoAwayFrame)]
    assert [(f.stream_id, f.error_code) for f in resets] == [(1, ErrorCodes.CANCEL)]
    assert [(f.last_stream_id, f.error_code) for f in goaways] == [(0, ErrorCodes.NO_ERROR)]
    assert not any(isinstance(f, HeadersFrame) for f in received)  # never answered


async def test_one_headers_frame_trickled_byte_by_byte_is_cut(slow_port: int) -> None:
    (frame,) = header_block_frames(1, "GET", "/api/server/ping", pieces=1)
    with trio.fail_after(CAP):
        stream = await connect(slow_port)
        await stream.send_all(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        async with trio.open_nursery() as nursery:

            async def send_slowly() -> None:
                try:
                    for byte in frame.serialize():
                        await stream.send_all(bytes([byte]))
                        await trio.sleep(0.02)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

            nursery.start_soon(send_slowly)
            received = await read_frames(stream)
            nursery.cancel_scope.cancel()
    assert [f.error_code for f in received if isinstance(f, GoAwayFrame)] == [ErrorCodes.NO_ERROR]
    assert not any(isinstance(f, HeadersFrame) for f in received)


async def test_connection_without_a_request_gets_goaway(slow_port: int) -> None:
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client:
            await client.wait_closed()
        assert client.goaway == ErrorCodes.NO_ERROR


async def test_idle_connection_after_a_request_is_not_cut_by_the_header_timeout(slow_port: int) -> None:
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client:
            assert (await client.answer(await client.request("GET", "/api/server/ping"))).status == 200
            await trio.sleep(1.0)  # idle between requests: the keep-alive timeout's business
            assert (await client.answer(await client.request("GET", "/api/server/ping"))).status == 200
            assert client.goaway is None and not client.closed


async def test_h2c_upgrade_connection_gets_the_limits(slow_port: int, slow_app: SlowApp) -> None:
    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port), upgrade=True) as client:
            upgraded = await client.answer(1)
            assert (upgraded.status, upgraded.body) == (200, b"pong")
            slow = await client.request("POST", "/upload", end=False)
            await client.send_body(slow, b"x" * 10)
            assert (await client.answer(slow)).reset == ErrorCodes.CANCEL
            await slow_app.wait_ended("upload")
            fast = await client.request("POST", "/upload", end=False)
            await client.send_body(fast, b"z" * 5000, end=True)
            assert (await client.answer(fast)).body == b"5000"


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


async def test_h2_over_tls_gets_the_limits(
    small_limits: None, slow_app: SlowApp, nursery: trio.Nursery, tmp_path: Path
) -> None:
    certfile, keyfile = self_signed(tmp_path)
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.certfile, config.keyfile = str(certfile), str(keyfile)
    binds = await nursery.start(partial(hypercorn_serve, slow_app.app, config))
    port = int(binds[0].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(certfile))
    context.set_alpn_protocols(["h2"])
    with trio.fail_after(CAP):
        tls = trio.SSLStream(await connect(port), context, server_hostname="localhost")
        await tls.do_handshake()
        assert tls.selected_alpn_protocol() == "h2"
        async with h2_connection(tls) as client:
            slow = await client.request("POST", "/upload", end=False)
            await client.send_body(slow, b"x" * 10)
            assert (await client.answer(slow)).reset == ErrorCodes.CANCEL
            fast = await client.request("POST", "/upload", end=False)
            await client.send_body(fast, b"z" * 100_000, end=True)
            assert (await client.answer(fast)).body == b"100000"


@pytest.mark.parametrize("reset_by", ["server", "client"])
async def test_connection_left_idle_after_a_reset_closes_at_the_keep_alive_timeout(
    small_limits: None, slow_app: SlowApp, nursery: trio.Nursery, reset_by: str
) -> None:
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.keep_alive_timeout = 0.5
    binds = await nursery.start(partial(hypercorn_serve, slow_app.app, config))
    with trio.fail_after(CAP):
        async with h2_connection(await connect(int(binds[0].rsplit(":", 1)[1]))) as client:
            stream_id = await client.request("POST", "/upload", end=False)
            if reset_by == "client":
                client.conn.reset_stream(stream_id, ErrorCodes.CANCEL)
                await client.flush()
            else:
                assert (await client.answer(stream_id)).reset == ErrorCodes.CANCEL
            await slow_app.wait_ended("upload")
            await client.wait_closed()  # no stream left: the keep-alive timeout applies again


async def test_quiet_websocket_over_h2_is_not_cut(slow_port: int, slow_app: SlowApp) -> None:
    @slow_app.app.websocket("/ws")
    async def echo() -> None:
        from quart import websocket

        while True:
            await websocket.send(await websocket.receive())

    with trio.fail_after(CAP):
        async with h2_connection(await connect(slow_port)) as client:
            while client.conn.remote_settings.enable_connect_protocol != 1:
                await client.wait_changed()
            ws = await client.request("CONNECT", "/ws", end=False, **{":protocol": "websocket"}, sec_websocket_version="13")
            while client.answers[ws].status is None:
                await client.wait_changed()
            assert client.answers[ws].status == 200
            await trio.sleep(1.0)  # twice the body window without a byte: a websocket may be quiet
            mask = b"\x01\x02\x03\x04"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"hello"))
            await client.send_body(ws, b"\x81\x85" + mask + payload)
            while b"hello" not in client.answers[ws].body:
                await client.wait_changed()
            assert client.answers[ws].reset is None


async def test_the_api_listener_offers_h2c_under_the_limits(
    small_limits: None, slow_app: SlowApp, nursery: trio.Nursery, tmp_path: Path
) -> None:
    """``serve_http``, as the server starts it: prior knowledge and upgrade both speak HTTP/2."""
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await nursery.start(serve_http, Settings(host="127.0.0.1", port=port, media_location=tmp_path), slow_app.app)
    with trio.fail_after(CAP):
        for upgrade in (False, True):
            async with h2_connection(await connect(port), upgrade=upgrade) as client:
                ping = await client.answer(await client.request("GET", "/api/server/ping"))
                assert (ping.status, ping.body) == (200, b"pong")
                slow = await client.request("POST", "/upload", end=False)
                await client.send_body(slow, b"x" * 10)
                assert (await client.answer(slow)).reset == ErrorCodes.CANCEL
