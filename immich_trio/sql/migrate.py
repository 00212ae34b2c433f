"""Numbered ``.sql`` migrations (``NNNN_name.sql``), applied in order, once, under a lock.

Each migration runs in its own transaction together with its row in
``immich_trio_migrations``, so it is applied entirely or not at all. A session advisory
lock serialises concurrent migrators (two server processes starting at once): the second
waits, then finds nothing left to do. Migration files must not contain transaction
control (``BEGIN``/``COMMIT``).

On a database Immich made (``public.kysely_migrations`` exists: an adopted installation)
``public`` is Immich's: the Immich schema version is checked first (refused unless it is the
one we speak, before anything is written), then only the migrations marked ``-- scope: own``
(objects in our own schema ``immich_trio``) run; the others (Immich's schema, our extra
indexes on Immich's tables) are recorded as skipped. The record is ``immich_trio.migrations``
there, so nothing of ours is added to ``public``.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import attrs
import psycopg
import trio

from .driver import TrioConnection, connect
from .errors import MigrationError
from .immich_database import check_supported, read_ledger

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "immich_trio_migrations"
# Arbitrary constant identifying the migration lock among the database's advisory locks.
ADVISORY_LOCK_KEY = 0x1A11C4_7210
# Releasing the lock after a cancelled run gets this long.
UNLOCK_TIMEOUT = 5.0

_FILE_RE = re.compile(r"^(\d{4})_([A-Za-z0-9_\-]+)\.sql$")
# A migration that creates only objects of our own schema carries this line: it also runs on
# an adopted Immich database.
OWN_SCOPE_RE = re.compile(r"^-- scope: own\s*$", re.MULTILINE)
# The ledger on an adopted Immich database (our schema, not Immich's public).
ADOPTED_MIGRATIONS_TABLE = "immich_trio.migrations"
CREATE_ADOPTED_TABLE = f"""
CREATE SCHEMA IF NOT EXISTS immich_trio;
CREATE TABLE IF NOT EXISTS {ADOPTED_MIGRATIONS_TABLE} (
    version int PRIMARY KEY,
    name text NOT NULL,
    skipped boolean NOT NULL DEFAULT false,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, name FROM {table} ORDER BY version"
INSERT_APPLIED = "INSERT INTO {table} (version, name) VALUES (%s, %s)"
INSERT_SKIPPED = f"INSERT INTO {ADOPTED_MIGRATIONS_TABLE} (version, name, skipped) VALUES (%s, %s, true)"


@attrs.frozen(kw_only=True)
class Migration:
    version: int
    name: str  # file name without ".sql", e.g. "0001_initial"
    sql: str

    @property
    def own_scope(self) -> bool:
        """Whether it creates only objects of our schema (so it runs on Immich's database too)."""
        return OWN_SCOPE_RE.search(self.sql) is not None


def default_folder() -> Traversable:
    return resources.files("immich_trio.sql") / "migrations"


def load_migrations(folder: Traversable | Path | None = None) -> list[Migration]:
    """Read the migrations of ``folder`` (default: the package's), sorted by version."""
    root: Traversable = default_folder() if folder is None else folder
    found: dict[int, Migration] = {}
    if not root.is_dir():
        return []
    for entry in root.iterdir():
        match = _FILE_RE.match(entry.name)
        if match is None or not entry.is_file():
            if entry.name.endswith(".sql"):
                logger.warning("ignoring migration file with a bad name: %s", entry.name)
            continue
        version = int(match.group(1))
        name = entry.name.removesuffix(".sql")
        if version in found:
            raise ValueError(f"two migrations numbered {version}: {found[version].name}, {name}")
        found[version] = Migration(version=version, name=name, sql=entry.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(conn: TrioConnection[Any], folder: Traversable | Path | None = None) -> list[str]:
    """Apply the pending migrations of ``folder``; return the names applied, in order.

    ``conn`` must be idle (not inside a transaction); it is used in autocommit mode for
    the duration and restored afterwards.
    """
    migrations = await trio.to_thread.run_sync(load_migrations, folder)
    was_autocommit = conn.autocommit
    if not was_autocommit:
        await conn.set_autocommit(True)
    try:
        await conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            return await _apply_pending(conn, migrations)
        finally:
            with trio.move_on_after(UNLOCK_TIMEOUT, shield=True):
                if not conn.closed:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    finally:
        if not was_autocommit and not conn.closed:
            with trio.move_on_after(UNLOCK_TIMEOUT, shield=True):
                await conn.set_autocommit(False)


async def _apply_pending(conn: TrioConnection[Any], migrations: list[Migration]) -> list[str]:
    ledger = await read_ledger(conn)
    adopted = ledger is not None
    if ledger is not None:
        check_supported(ledger)  # before anything is written
        table = ADOPTED_MIGRATIONS_TABLE
        await conn.execute(CREATE_ADOPTED_TABLE.encode("utf-8"))
    else:
        table = MIGRATIONS_TABLE
        await conn.execute(CREATE_TABLE)
    cur = await conn.execute(SELECT_APPLIED.format(table=table).encode("utf-8"))
    applied: dict[int, str] = {}
    for row in await cur.fetchall():
        version, name = (row["version"], row["name"]) if isinstance(row, dict) else row
        applied[version] = name
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.name:
                logger.warning(
                    "migration %d was applied as %s, the file is now %s",
                    migration.version,
                    applied[migration.version],
                    migration.name,
                )
            continue
        if adopted and not migration.own_scope:
            logger.info("adopted Immich database: skipping migration %s (Immich's schema)", migration.name)
            await conn.execute(INSERT_SKIPPED.encode("utf-8"), (migration.version, migration.name))
            continue
        logger.info("applying migration %s", migration.name)
        try:
            async with conn.transaction():
                # No parameters: psycopg sends the file with the simple query protocol,
                # which accepts several statements.
                await conn.execute(migration.sql.encode("utf-8"))
                await conn.execute(INSERT_APPLIED.format(table=table).encode("utf-8"), (migration.version, migration.name))
        except psycopg.Error as exc:
            raise MigrationError(migration.version, migration.name, str(exc)) from exc
        done.append(migration.name)
    return done


async def migrate_url(url: str, folder: Traversable | Path | None = None) -> list[str]:
    """Connect to ``url``, apply the pending migrations, disconnect."""
    conn = await connect(url, autocommit=True)
    try:
        return await migrate(conn, folder)
    finally:
        with trio.CancelScope(shield=True):
            await conn.close()
