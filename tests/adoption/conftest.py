"""The Immich v3.1.0 installation of tests/fixtures/immich-instance, adopted into a fresh database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import trio

from immich_trio.sql.adopt_restore import adopt_dump
from immich_trio.sql.embedded import bin_path
from tests.conftest import ROOT, _create_database, scratch_database

FIXTURE = ROOT / "tests" / "fixtures" / "immich-instance"
DUMP = FIXTURE / "immich-db.sql.gz"


@pytest.fixture(scope="session")
def accounts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "accounts.json").read_text())
    return data


@pytest.fixture(scope="session")
def adopted_template(pg_server_url: str) -> str:
    """A database restored from the fixture's dump and migrated (used as a template)."""
    name = "t_immich_" + uuid.uuid4().hex[:8]
    url = _create_database(pg_server_url, name)
    trio.run(adopt_dump, url, DUMP, bin_path() / "psql")
    return name


@pytest.fixture
def adopted_url(pg_server_url: str, adopted_template: str) -> Iterator[str]:
    with scratch_database(pg_server_url, adopted_template) as url:
        yield url


@pytest.fixture
def fresh_url(pg_server_url: str) -> Iterator[str]:
    with scratch_database(pg_server_url) as url:
        yield url


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []
