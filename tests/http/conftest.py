"""Fixtures for HTTP tests: the real app on a real database, driven by Quart's test client.

The client checks every answer against the spec's response schema (``response_schema.py``):
a mismatch fails the test that made the request. A full run of ``tests/http`` then fails
when an implemented operation never produced a checked success answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import trio
from quart import Response
from quart.testing.connections import HTTPDisconnectError
from quart_trio.testing import TrioClient
from quart_trio.testing.connections import TestHTTPConnection
from werkzeug.exceptions import HTTPException

from immich_trio import crypto
from immich_trio.actors.notifier.hub import Subscription
from immich_trio.actors.uploader import Uploader
from immich_trio.config import Settings
from immich_trio.http import registry, spec
from immich_trio.http.app import create_app
from immich_trio.http.socketio import EventRelay
from immich_trio.runtime import Runtime
from immich_trio.sql.pool import open_pool
from tests.http import response_schema


@pytest.fixture
async def runtime(db_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    media = tmp_path / "media"
    media.mkdir()
    async with open_pool(db_url) as pool:
        yield Runtime(settings=Settings(media_location=media, db_url=db_url), pool=pool)


class ReadingHTTPConnection(TestHTTPConnection):
    """Quart-trio's test connection, reading the body while the app writes it.

    The stock one reads only after the app has finished, through a 10-slot channel: an answer
    streamed in more than 10 chunks (a sync stream of many types) blocks the app for ever.
    """

    _app_error: Exception | None = None

    async def __aenter__(self) -> TestHTTPConnection:
        self._nursery_manager = trio.open_nursery()
        nursery = await self._nursery_manager.__aenter__()
        nursery.start_soon(self._run_app)
        nursery.start_soon(self._read_body)
        return self

    async def _run_app(self) -> None:
        try:
            await self.app(self.scope, self._asgi_receive, self._asgi_send)  # type: ignore[arg-type]
        finally:
            self._client_send.close()  # the reader ends even if the app never finished the body

    async def _read_body(self) -> None:
        async for data in self._client_receive:
            if isinstance(data, bytes):
                self.response_data.extend(data)
            elif self._app_error is None:
                self._app_error = data

    async def __aexit__(self, *exc: Any) -> None:
        await super().__aexit__(*exc)
        if self._app_error is not None and not isinstance(self._app_error, HTTPDisconnectError):
            raise self._app_error


class SpecCheckingClient(TrioClient):
    """Quart's test client; each answer of a spec operation is checked against its schema."""

    http_connection_class = ReadingHTTPConnection  # type: ignore[assignment]

    async def open(self, path: str, *args: Any, **kwargs: Any) -> Response:
        response = await super().open(path, *args, **kwargs)
        method = kwargs.get("method", "GET")
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _ = adapter.match(path.split("?", 1)[0], method=method)
        except HTTPException:
            return response
        if endpoint in spec.operations():
            body = await response.get_data(as_text=False)
            response_schema.check(endpoint, response.status_code, response.content_type or "", body)
        return response


@pytest.fixture
async def uploader(runtime: Runtime, nursery: trio.Nursery) -> AsyncIterator[Uploader]:
    """The uploader actor, running, with its address on ``runtime`` (what uploads need)."""
    actor = Uploader(runtime.pool, runtime.settings.media_location)
    await nursery.start(actor.run)
    runtime.uploader = actor.address
    yield actor
    actor.request_stop()


@pytest.fixture
async def relay(runtime: Runtime, nursery: trio.Nursery) -> EventRelay:
    """This process's event relay: committed events reach ``runtime.hub``'s sockets."""
    relay = EventRelay(runtime.pool, runtime.hub)
    with trio.fail_after(10):
        await nursery.start(relay.run)
    assert relay.statistics().listening
    return relay


async def next_event(sub: Subscription) -> list[Any]:
    """The next event the hub queued for a socket (the greeting skipped), as ``[name, *args]``."""
    with trio.fail_after(10):
        while True:
            event: list[Any] = json.loads((await sub.receive())[2:])
            if event[0] != "on_server_version":
                return event


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Any]:
    app = create_app(runtime)
    app.test_client_class = SpecCheckingClient
    async with app.test_app() as test_app:
        yield test_app.test_client()


@attrs.frozen
class UserCreds:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeUser = Callable[..., Awaitable[UserCreds]]


@pytest.fixture
def make_user(db_url: str) -> MakeUser:
    """Insert a user and a session straight into the database (no HTTP), for tests of other routes."""

    async def make(
        email: str = "user@example.com",
        *,
        password: str = "password",
        name: str = "User",
        is_admin: bool = False,
    ) -> UserCreds:
        token = crypto.new_token()
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                'INSERT INTO "user" (email, password, name, "isAdmin", "storageLabel", "shouldChangePassword")'
                " VALUES (%s, %s, %s, %s, %s, false) RETURNING id",
                (email, crypto.hash_password(password), name, is_admin, "admin" if is_admin else None),
            ).fetchone()
            assert row is not None
            user_id = row[0]
            conn.execute(
                'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
                (crypto.hash_token(token), user_id, "pytest", "Linux"),
            )
        return UserCreds(id=str(user_id), email=email, password=password, token=token)

    return make


def now() -> datetime:
    return datetime.now(UTC)


# --- every implemented operation answered at least once, over a full run -----------------

HTTP_TESTS = Path(__file__).resolve().parent
_deselected: list[pytest.Item] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(items)


def _full_run(session: pytest.Session) -> bool:
    """Whether every test module of tests/http was collected, with no test filtered out."""
    config = session.config
    if config.option.keyword or config.option.markexpr or _deselected:
        return False
    if any("::" in arg for arg in config.args):
        return False
    collected = {Path(str(item.path)) for item in session.items}
    return all(path in collected for path in HTTP_TESTS.glob("test_*.py"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus != pytest.ExitCode.OK or not _full_run(session):
        return
    handlers = registry.handlers()
    implemented = {op.operation_id for op in spec.operations().values() if not op.hidden}
    missing = sorted((implemented & set(handlers)) - response_schema.CHECKED)
    if not missing:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "implemented operations with no checked response", red=True)
        for op_id in missing:
            op = spec.operations()[op_id]
            reporter.write_line(f"{op_id}: {op.method} {op.path} (tag {op.tag})")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
