"""``immich-trio adopt-dump``: an Immich dump restored into our (usually the embedded) database.

The target database must be empty (a fresh embedded data directory, or ``--replace``, which
drops and recreates it). The extensions the server lacks are handled by ``immich_dump``; the
dump runs in one transaction with ``psql``; then our migrations run, which recognise the
Immich database and add only our own schema."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import trio
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import database_swap, driver
from .immich_dump import rewrite_dump
from .migrate import migrate_url

# The extensions Immich's dumps create that a server may lack, and we know how to replace.
REPLACEABLE = ("uuid-ossp", "vchord")
SERVER_DATABASE = "postgres"


class AdoptFailed(Exception):
    """The dump was not restored; the message says why. The database was left as it was."""


async def missing_extensions(url: str) -> frozenset[str]:
    """Which of REPLACEABLE the server of ``url`` cannot install."""
    async with await driver.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (list(REPLACEABLE),)
        )
        available = {
            row["name"] if isinstance(row, dict) else row[0] for row in await cur.fetchall()
        }
    return frozenset(REPLACEABLE) - available


async def _public_tables(url: str) -> int:
    async with await driver.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname IN ('public', 'immich_trio')"
        )
        row: Any = await cur.fetchone()
    return int(row["n"] if isinstance(row, dict) else row[0])


async def adopt_dump(url: str, dump: Path, psql: Path, *, replace: bool = False) -> list[str]:
    """Restore ``dump`` into the database of ``url``, then migrate; return the migrations applied."""
    if not await trio.to_thread.run_sync(dump.is_file):
        raise AdoptFailed(f"No such dump: {dump}")
    name = str(conninfo_to_dict(url).get("dbname") or "")
    if replace:
        async with await driver.connect(
            make_conninfo(url, dbname=SERVER_DATABASE), autocommit=True
        ) as server:
            await database_swap.recreate(server, name)
    elif await _public_tables(url):
        raise AdoptFailed(
            f"Database {name} is not empty: adopt into a fresh one (or pass --replace to drop it first)"
        )
    missing = await missing_extensions(url)
    with tempfile.TemporaryDirectory(prefix="immich-trio-adopt-") as folder:
        plain = Path(folder) / "dump.sql"
        await trio.to_thread.run_sync(rewrite_dump, dump, plain, missing)
        command = [
            str(psql), "--no-psqlrc", "--quiet", "--single-transaction",
            "-v", "ON_ERROR_STOP=1", f"--file={plain}", f"--dbname={url}",
        ]  # fmt: skip
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        raise AdoptFailed(f"psql exited {done.returncode}: {error[-1] if error else ''}")
    return await migrate_url(url)
