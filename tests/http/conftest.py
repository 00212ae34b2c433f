"""Fixtures for HTTP tests: the real app on a real database, driven by Quart's test client."""

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

from immich_trio import crypto
from immich_trio.actors.notifier.hub import Subscription
from immich_trio.config import Settings
from immich_trio.http.app import create_app
from immich_trio.http.socketio import EventRelay
from immich_trio.runtime import Runtime
from immich_trio.sql.pool import open_pool


@pytest.fixture
async def runtime(db_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    media = tmp_path / "media"
    media.mkdir()
    async with open_pool(db_url) as pool:
        yield Runtime(settings=Settings(media_location=media, db_url=db_url), pool=pool)


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
