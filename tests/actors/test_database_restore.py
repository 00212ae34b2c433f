"""Restoring a gzipped pg_dump into a fresh database and swapping it in, against the real
PostgreSQL of the tests (with a pool open on the live database)."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.database_backup import default_pg_dump
from immich_trio.actors.database_restore import RestoreFailed, database_of, restore_backup
from immich_trio.sql.pool import open_pool

Sql = Callable[..., list[tuple[Any, ...]]]


def add_user(sql: Sql, email: str) -> None:
    sql('INSERT INTO "user" (email, name, password) VALUES (%s, %s, %s)', (email, email, "x"))


def emails(sql: Sql) -> set[str]:
    return {row[0] for row in sql('SELECT email FROM "user"')}


def dump(db_url: str, target: Path) -> Path:
    command = [str(default_pg_dump()), "--clean", "--if-exists", "--compress=gzip", f"--file={target}", f"--dbname={db_url}"]
    subprocess.run(command, check=True, capture_output=True)
    return target


def spoil(backup: Path, damage: str) -> None:
    """Cut the gzip in half, or replace it with a well-packed dump that fails half-way."""
    if damage == "truncated":
        data = backup.read_bytes()
        backup.write_bytes(data[: len(data) // 2])
    else:
        backup.write_bytes(gzip.compress(b'DROP TABLE "user" CASCADE;\nTHIS IS NOT SQL;\n'))


def databases(sql: Sql) -> set[str]:
    return {row[0] for row in sql("SELECT datname FROM pg_database")}


async def test_a_good_dump_replaces_the_database(db_url: str, sql: Sql, tmp_path: Path) -> None:
    add_user(sql, "before@example.com")
    backup = dump(db_url, tmp_path / "immich-db-backup-1.sql.gz")
    add_user(sql, "after@example.com")
    async with open_pool(db_url) as pool:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")  # an idle connection to the live database
        await restore_backup(db_url, backup)
        assert emails(sql) == {"before@example.com"}
        async with pool.connection() as conn:  # the pool reaches the restored database
            cur = await conn.execute('SELECT count(*) AS n FROM "user"')
            assert (await cur.fetchone())["n"] == 1
    live = database_of(db_url)
    assert not {live + "_restore", live + "_replaced"} & databases(sql)
    assert sorted(p.name for p in await trio.to_thread.run_sync(lambda: list(tmp_path.iterdir()))) == [backup.name]


@pytest.mark.parametrize("damage", ["truncated", "not_sql"])
async def test_a_corrupt_dump_leaves_everything_as_it_was(
    db_url: str, sql: Sql, tmp_path: Path, damage: str
) -> None:
    add_user(sql, "before@example.com")
    backup = dump(db_url, tmp_path / "immich-db-backup-1.sql.gz")
    add_user(sql, "after@example.com")
    await trio.to_thread.run_sync(spoil, backup, damage)
    reason = "Corrupt backup" if damage == "truncated" else "psql exited"
    with pytest.raises(RestoreFailed, match=reason):
        await restore_backup(db_url, backup)
    assert emails(sql) == {"before@example.com", "after@example.com"}
    assert database_of(db_url) + "_restore" not in databases(sql)
