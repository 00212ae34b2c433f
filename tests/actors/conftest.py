"""Fixtures of the actors' tests: the database, a media folder, an owner, the whole server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from media_harness import LIMIT, ML_OFF, Server, free_port, run_sql

from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.config import Settings
from immich_trio.sql.pool import Pool, open_pool
from immich_trio.supervision_tree import build_tree, make_media_folders

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


@pytest.fixture
async def config_watch(pool: Pool, nursery: trio.Nursery) -> ConfigWatch:
    """This process's config watch: a saved config reaches the ``sysconfig`` listeners."""
    watch = ConfigWatch(pool)
    with trio.fail_after(LIMIT):
        await nursery.start(watch.run)
    return watch


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


@pytest.fixture
def owner(sql: Sql) -> str:
    [(user_id,)] = sql(
        'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
        ("owner@example.com", "x", "Owner"),
    )
    return str(user_id)


@pytest.fixture
async def server(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    """The whole tree (database pool, migrations, media actors, HTTP on a free port)."""
    port = free_port()
    # Machine learning off: no model on these machines, and these tests watch the job table.
    run_sql(db_url, ML_OFF)
    settings = Settings(host="127.0.0.1", port=port, media_location=tmp_path / "media", db_url=db_url,
                        reverse_geocoding_import=False)
    make_media_folders(settings)
    root, runtime = build_tree(settings, Pool(db_url), timers=False)
    with trio.fail_after(LIMIT):
        await nursery.start(root.run)
    yield Server(runtime=runtime, base=f"http://127.0.0.1:{port}", db_url=db_url)
    with trio.fail_after(LIMIT):
        await root.shutdown()
