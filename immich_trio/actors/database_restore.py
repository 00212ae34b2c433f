"""Restoring a database backup (Immich's maintenance action ``restore_database``).

The gzipped dump is unpacked to a plain SQL file (a truncated or corrupt gzip fails here,
before anything is touched), replayed with the embedded PostgreSQL's ``psql``
(``--single-transaction -v ON_ERROR_STOP=1``) into a fresh database beside the live one, and
only when that succeeded the fresh database is swapped in (``sql/database_swap``). Any failure
drops the fresh database and leaves the live one as it was."""

from __future__ import annotations

import gzip
import logging
import shutil
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import trio
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from immich_trio.sql import database_swap as swap_q
from immich_trio.sql import driver

log = logging.getLogger(__name__)

CHUNK = 1 << 20
SERVER_DATABASE = "postgres"


class RestoreFailed(Exception):
    """The restore did not happen; the message says why (Immich's status ``error``)."""


def default_psql() -> Path:
    from immich_trio.sql.embedded import bin_path

    return bin_path() / "psql"


def _with_database(url: str, name: str) -> str:
    return make_conninfo(url, dbname=name)


def database_of(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "")


def _gunzip(source: Path, target: Path) -> None:
    """Unpack ``source`` into ``target`` in bounded chunks (blocking); raises RestoreFailed."""
    try:
        with gzip.open(source, "rb") as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out, CHUNK)
    except (OSError, EOFError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        raise RestoreFailed(f"Corrupt backup {source.name}: {exc}") from exc


async def restore_backup(
    url: str,
    backup: Path,
    *,
    psql: Callable[[], Path] = default_psql,
    prepare: Callable[[str], Awaitable[None]] | None = None,
) -> None:
    """Replace the database of ``url`` with the dump ``backup`` (a ``.sql.gz``), or raise
    RestoreFailed leaving it untouched. ``prepare`` gets the restored database's URL before
    the swap (to write state the restored database must hold the moment it goes live)."""
    live = database_of(url)
    if not live:
        raise RestoreFailed("No database name in the connection settings")
    fresh = live + swap_q.RESTORE_SUFFIX
    plain = backup.with_name(backup.name + ".restore.sql")
    try:
        await trio.to_thread.run_sync(_gunzip, backup, plain)
        server = await driver.connect(_with_database(url, SERVER_DATABASE), autocommit=True)
        async with server:
            await swap_q.recreate(server, fresh)
            try:
                command = [
                    str(psql()), "--no-psqlrc", "--quiet", "--single-transaction",
                    "-v", "ON_ERROR_STOP=1", f"--file={plain}", f"--dbname={_with_database(url, fresh)}",
                ]  # fmt: skip
                done = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
                if done.returncode != 0:
                    error = done.stderr.decode(errors="replace").strip().splitlines()
                    raise RestoreFailed(f"psql exited {done.returncode}: {error[-1] if error else ''}")
                if prepare is not None:
                    await prepare(_with_database(url, fresh))
                await swap_q.swap(server, live, fresh)
            except BaseException:
                with trio.move_on_after(30, shield=True):
                    await swap_q.drop(server, fresh)
                raise
    except psycopg.Error as exc:
        raise RestoreFailed(f"Database error: {exc}") from exc
    finally:
        await trio.to_thread.run_sync(lambda: plain.unlink(missing_ok=True))
    log.info("database restored from %s", backup.name)
