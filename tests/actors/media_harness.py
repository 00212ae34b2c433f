"""The whole server tree in-process on a real database, for the media pipeline's tests."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import psycopg
import trio

from immich_trio import crypto
from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.notifier.hub import Hub, Subscription
from immich_trio.config import Settings
from immich_trio.runtime import Runtime
from immich_trio.sql.pool import Pool
from immich_trio.supervision_tree import build_tree, make_media_folders

# Real clock, hard cap: the pipeline waits on threads, exiftool and PostgreSQL.
LIMIT = 60
POLL = 0.05
# A stored system config with machine learning off (no models on these machines).
ML_OFF = (
    "INSERT INTO system_metadata (key, value) VALUES ('system-config', '{\"machineLearning\": {\"enabled\": false}}')"
    " ON CONFLICT (key) DO UPDATE SET value = system_metadata.value || EXCLUDED.value"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sql(db_url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


@attrs.frozen
class User:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@attrs.frozen
class Server:
    runtime: Runtime
    base: str
    db_url: str

    @property
    def media(self) -> Any:
        return self.runtime.settings.media_location

    @property
    def hub(self) -> Hub:
        return self.runtime.hub

    @property
    def dispatcher(self) -> Dispatcher:
        assert self.runtime.dispatcher is not None
        return self.runtime.dispatcher

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return run_sql(self.db_url, query, params)

    async def asql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await trio.to_thread.run_sync(self.sql, query, params)


def make_user(db_url: str, email: str, *, is_admin: bool = False) -> User:
    """A user with a session, straight in the database."""
    token = crypto.new_token()
    [(user_id,)] = run_sql(
        db_url,
        'INSERT INTO "user" (email, password, name, "isAdmin", "shouldChangePassword")'
        " VALUES (%s, %s, %s, %s, false) RETURNING id",
        (email, crypto.hash_password("password"), email, is_admin),
    )
    run_sql(
        db_url,
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
        (crypto.hash_token(token), user_id, "pytest", "Linux"),
    )
    return User(id=str(user_id), token=token)


async def next_event(sub: Subscription, name: str) -> list[Any]:
    """Arguments of the next ``name`` event on the socket (earlier events are skipped)."""
    while True:
        frame = await sub.receive()
        assert frame.startswith("42")
        decoded: list[Any] = json.loads(frame[2:])
        if decoded[0] == name:
            return decoded[1:]


async def wait_for(server: Server, query: str, params: tuple[Any, ...], expected: Any) -> None:
    """Poll the database (jobs change in another task's transactions) until it shows ``expected``."""
    seen: Any = None
    for _ in range(int(LIMIT / POLL)):
        seen = await server.asql(query, params)
        if seen == expected:
            return
        await trio.sleep(POLL)
    raise AssertionError(f"never saw {expected!r} for {query}, last {seen!r}")


async def serve_with_models(
    db_url: str, tmp_path: Path, nursery: trio.Nursery, install: Callable[[Path], Any]
) -> AsyncIterator[Server]:
    """The whole tree on ``db_url`` with ``install(cache)``'s models in its model cache; shut
    down when the caller's ``async for`` ends."""
    cache = tmp_path / "models"
    install(cache)
    port = free_port()
    settings = Settings(
        host="127.0.0.1", port=port, media_location=tmp_path / "media", db_url=db_url, machine_learning_cache=cache
    )
    make_media_folders(settings)
    root, runtime = build_tree(settings, Pool(db_url))
    with trio.fail_after(LIMIT):
        await nursery.start(root.run)
    yield Server(runtime=runtime, base=f"http://127.0.0.1:{port}", db_url=db_url)
    with trio.fail_after(LIMIT):
        await root.shutdown()
