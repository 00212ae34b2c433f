"""The hourly version check on Trio's MockClock (no autojump: time moves only when a test jumps)
against a real database, with a local HTTP server standing in for GitHub."""

from __future__ import annotations

import json
import time as real_time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import trio_wall_clock
from immich_trio.actors.notifier.hub import Hub
from immich_trio.actors.version_check import VersionCheck, is_newer, parse_version
from immich_trio.http.socketio.relay import EventRelay
from immich_trio.sql import events
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool, open_pool

REAL_TIMEOUT = 20.0
BASE = datetime(2026, 6, 7, 10, 30, 0, tzinfo=UTC)


@attrs.define
class FakeGitHub:
    """Answers every request with ``tag`` as the latest release; counts the requests."""

    tag: str = "v3.1.0"
    requests: int = 0
    broken: bool = False
    """Close each connection without an answer, as a network failure does."""
    port: int = 0


async def _handle(github: FakeGitHub, stream: trio.SocketStream) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return
        data += chunk
    github.requests += 1
    if github.broken:
        await stream.aclose()
        return
    body = json.dumps({"tag_name": github.tag, "published_at": "2026-06-01T00:00:00Z"}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    await stream.send_all(head.encode() + body)
    await stream.aclose()


@pytest.fixture
async def github(nursery: trio.Nursery) -> FakeGitHub:
    fake = FakeGitHub()

    async def handler(stream: trio.SocketStream) -> None:
        await _handle(fake, stream)

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    fake.port = listeners[0].socket.getsockname()[1]
    return fake


@pytest.fixture
async def pool(db_url: str, mock_clock: trio.testing.MockClock) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


async def save_config(pool: Pool, partial: dict[str, Any]) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (sysconfig.KEY, json.dumps(partial)),
        )
        await events.publish_config_saved(conn)


async def state(pool: Pool) -> Any:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT value FROM system_metadata WHERE key = 'version-check-state'")
        row = await cur.fetchone()
        return None if row is None else row["value"]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = real_time.monotonic() + REAL_TIMEOUT
    while not await check():
        if real_time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.testing.wait_all_tasks_blocked()
        await trio.lowlevel.checkpoint()


async def settle() -> None:
    for _ in range(5):
        await trio.testing.wait_all_tasks_blocked()
    await trio.lowlevel.checkpoint()


@attrs.define
class Listener:
    """The socket events published on the events channel (what every relay hears)."""

    received: list[events.EventNotice] = attrs.Factory(list)

    async def run(self, url: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await listen_forever(url, events.CHANNEL, self._on_payload, name="test-events", task_status=task_status)

    async def _on_payload(self, payload: str) -> None:
        notice = events.decode(payload)
        if notice is not None:
            self.received.append(notice)


async def start(pool: Pool, nursery: trio.Nursery, github: FakeGitHub) -> VersionCheck:
    check = VersionCheck(pool, now=trio_wall_clock(BASE), url=f"http://127.0.0.1:{github.port}/releases/latest")
    with trio.fail_after(REAL_TIMEOUT):
        await nursery.start(check.run)
    return check


async def _stored(pool: Pool) -> bool:
    return await state(pool) is not None


async def test_a_newer_release_is_stored_and_announced(
    pool: Pool, nursery: trio.Nursery, github: FakeGitHub, db_url: str, mock_clock: trio.testing.MockClock
) -> None:
    listener = Listener()
    await nursery.start(listener.run, db_url)
    github.tag = "v3.2.0"
    check = await start(pool, nursery, github)
    await eventually(lambda: _stored(pool), "the stored state")
    assert await state(pool) == {"checkedAt": "2026-06-07T10:30:00.000Z", "releaseVersion": "v3.2.0"}
    await eventually(lambda: _has_event(listener), "on_new_release")
    [notice] = listener.received
    assert notice.user_id is None and notice.session_id is None  # every socket
    assert notice.args == (
        {
            "isAvailable": True,
            "checkedAt": "2026-06-07T10:30:00.000Z",
            "serverVersion": {"major": 3, "minor": 1, "patch": 0, "prerelease": None},
            "releaseVersion": {"major": 3, "minor": 2, "patch": 0, "prerelease": None},
        },
    )
    assert check.checks == 1 and github.requests == 1

    # Within the hour nothing is asked again; an hour later it is.
    mock_clock.jump(1800)
    await settle()
    assert github.requests == 1
    mock_clock.jump(1800)
    await eventually(lambda: _requests_are(github, 2), "the hourly check")


async def test_the_same_version_is_stored_without_an_event(
    pool: Pool, nursery: trio.Nursery, github: FakeGitHub, db_url: str
) -> None:
    listener = Listener()
    await nursery.start(listener.run, db_url)
    await start(pool, nursery, github)
    await eventually(lambda: _stored(pool), "the stored state")
    assert (await state(pool))["releaseVersion"] == "v3.1.0"
    await settle()
    assert listener.received == []


async def test_a_disabled_check_asks_nothing_until_enabled(
    pool: Pool, nursery: trio.Nursery, github: FakeGitHub, config_watch: Any, mock_clock: trio.testing.MockClock
) -> None:
    await save_config(pool, {"newVersionCheck": {"enabled": False}})
    await start(pool, nursery, github)
    for _ in range(3):
        mock_clock.jump(3600)
        await settle()
    assert github.requests == 0 and await state(pool) is None

    await save_config(pool, {"newVersionCheck": {"enabled": True}})  # no restart
    await eventually(lambda: _stored(pool), "the check once enabled")
    assert github.requests == 1


async def test_a_network_error_stores_nothing_and_the_task_keeps_running(
    pool: Pool, nursery: trio.Nursery, github: FakeGitHub, mock_clock: trio.testing.MockClock
) -> None:
    github.broken = True
    check = await start(pool, nursery, github)
    await eventually(lambda: _failures_are(check, 1), "the failed check")
    assert check.checks == 0 and await state(pool) is None

    github.broken = False  # the network is back; the next hour's check succeeds
    mock_clock.jump(3600)
    await eventually(lambda: _stored(pool), "the next hour's check")
    assert check.checks == 1 and github.requests == 2


def test_semantic_version_order() -> None:
    assert is_newer(parse_version("v3.2.0"), parse_version("3.1.0"))
    assert is_newer(parse_version("v3.1.1-rc.1"), parse_version("3.1.0"))
    assert not is_newer(parse_version("v3.1.0-rc.1"), parse_version("3.1.0"))
    assert not is_newer(parse_version("v3.1.0"), parse_version("3.1.0"))
    assert not is_newer(parse_version("v2.9.9"), parse_version("3.1.0"))
    with pytest.raises(ValueError):
        parse_version("latest")


async def _failures_are(check: VersionCheck, count: int) -> bool:
    await trio.lowlevel.checkpoint()
    return check.failures == count


async def _has_event(listener: Listener) -> bool:
    await trio.lowlevel.checkpoint()
    return any(n.event == "on_new_release" for n in listener.received)


async def _requests_are(github: FakeGitHub, count: int) -> bool:
    await trio.lowlevel.checkpoint()
    return github.requests == count


async def test_a_stored_notice_reaches_sockets_after_a_restart(pool: Pool, nursery: trio.Nursery) -> None:
    """The relay of a freshly started process sends the stored result on connect."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES ('version-check-state', %s::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (json.dumps({"checkedAt": "2026-06-07T10:30:00.000Z", "releaseVersion": "v99.0.0"}),),
        )
    hub = Hub()
    await nursery.start(EventRelay(pool, hub).run)
    sub = hub.attach(user_id="u1", session_id=None)
    frames = []
    while True:
        try:
            frames.append(sub._receive.receive_nowait())  # type: ignore[attr-defined]
        except trio.WouldBlock:
            break
    notices = [json.loads(frame[2:])[1] for frame in frames if '"on_new_release"' in frame]
    assert len(notices) == 1
    assert notices[0]["isAvailable"] is True and notices[0]["releaseVersion"]["major"] == 99
    assert notices[0]["checkedAt"] == "2026-06-07T10:30:00.000Z"
