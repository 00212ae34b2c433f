"""Raw HTTP/2 guard rail for answers the client does not wait for: an early answer while the
body is still coming keeps the connection (Hypercorn raised ``KeyError`` out of ``serve``), and
a client vanishing mid-response ends its handler (issue 7, defects 2 and 8 on HTTP/2)."""

from __future__ import annotations

import pytest
import trio
from h2.errors import ErrorCodes

from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser
from tests.http.h2_client import SlowApp, connect, h2_connection
from tests.http.test_connections import BODY, serve

CAP = 10  # seconds: a hung connection fails the test instead of the run


@pytest.fixture
def bare() -> SlowApp:
    return SlowApp()


@pytest.fixture
async def bare_port(bare: SlowApp, nursery: trio.Nursery) -> int:
    return await serve(bare.app, nursery)


async def early_answer_then_ping(port: int, token: str | None, body_before_answer: bool) -> int:
    """POST /api/albums with its body still to come, then a ping on the same connection."""
    headers = {"content_type": "application/json", "content_length": str(len(BODY))}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    with trio.fail_after(CAP):
        async with h2_connection(await connect(port)) as client:
            first = await client.request("POST", "/api/albums", end=False, **headers)
            if body_before_answer:
                await client.send_body(first, BODY[:10])
            answer = await client.answer(first)
            if answer.reset is None:  # the client goes on sending; the server drops it
                await client.send_body(first, BODY[10:] if body_before_answer else BODY, end=True)
            ping = await client.answer(await client.request("GET", "/api/server/ping"))
            assert ping.status == 200 and ping.body
            assert client.goaway is None
            assert answer.status is not None
            return answer.status


async def test_keep_alive_after_an_early_answer(runtime: Runtime, nursery: trio.Nursery, make_user: MakeUser) -> None:
    port = await serve(create_app(runtime), nursery)
    user = await make_user("h2conn@example.com")
    for before in (False, True, False, True):
        assert await early_answer_then_ping(port, None, before) == 401
    with trio.fail_after(CAP):  # a full request on the same kind of connection is served as usual
        async with h2_connection(await connect(port)) as client:
            headers = {"content_type": "application/json", "authorization": f"Bearer {user.token}"}
            created = await client.request("POST", "/api/albums", end=False, **headers)
            await client.send_body(created, BODY, end=True)
            assert (await client.answer(created)).status == 201


async def test_bare_quart_trio_app_survives_a_body_after_its_answer(bare_port: int) -> None:
    """Unpatched, the DATA that follows an early answer raised KeyError out of ``serve``."""
    with trio.fail_after(CAP):
        async with h2_connection(await connect(bare_port)) as client:
            first = await client.request("POST", "/early", end=False)
            assert (await client.answer(first)).status == 401
            await client.send_body(first, b"x" * 100_000, end=True)  # stops at the server's reset
            assert client.answers[first].reset == ErrorCodes.NO_ERROR
            assert (await client.answer(await client.request("GET", "/api/server/ping"))).body == b"pong"


async def test_early_answer_during_a_burst_of_small_frames(bare_port: int) -> None:
    with trio.fail_after(CAP):
        async with h2_connection(await connect(bare_port)) as client:
            for _ in range(3):
                first = await client.request("POST", "/early", end=False)
                for _ in range(3000):
                    client.conn.send_data(first, b"x" * 10)
                await client.flush()
                assert (await client.answer(first)).status == 401
                ping = await client.answer(await client.request("GET", "/api/server/ping"))
                assert ping.body == b"pong"


async def test_client_vanishing_mid_response_ends_the_stream(bare_port: int, bare: SlowApp) -> None:
    with trio.fail_after(CAP):
        stream = await connect(bare_port)
        async with h2_connection(stream) as client:
            big = await client.request("GET", "/big")
            while not client.answers[big].body:
                await client.wait_changed()
            await stream.aclose()
        await bare.wait_ended("big")  # the response generator was closed, not left writing
        async with h2_connection(await connect(bare_port)) as client:
            assert (await client.answer(await client.request("GET", "/api/server/ping"))).status == 200
