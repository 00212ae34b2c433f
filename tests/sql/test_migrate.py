"""Numbered migrations: order, idempotence, concurrent migrators, failure rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from immich_trio.sql.driver import connect
from immich_trio.sql.errors import MigrationError
from immich_trio.sql.migrate import (
    ADVISORY_LOCK_KEY,
    MIGRATIONS_TABLE,
    load_migrations,
    migrate,
    migrate_url,
)

CAP = 30


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


async def recorded(url: str) -> list[tuple[int, str]]:
    conn = await connect(url, autocommit=True)
    try:
        cur = await conn.execute(f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version")
        return [(r["version"], r["name"]) for r in await cur.fetchall()]
    finally:
        await conn.close()


async def test_applies_in_order_once(empty_db_url: str, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "m",
        {
            # Written out of order; 0002 and 0010 depend on what comes before them.
            "0010_c.sql": "ALTER TABLE a ADD COLUMN c text;",
            "0001_a.sql": "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);",
            "0002_b.sql": "ALTER TABLE a ADD COLUMN b int; -- 100% fine: no params\n"
            "UPDATE a SET b = 2;",
            "README.md": "not a migration",
        },
    )
    with trio.fail_after(CAP):
        assert await migrate_url(empty_db_url, folder) == ["0001_a", "0002_b", "0010_c"]
        assert await recorded(empty_db_url) == [(1, "0001_a"), (2, "0002_b"), (10, "0010_c")]
        assert await migrate_url(empty_db_url, folder) == []

        write(folder, {"0011_d.sql": "UPDATE a SET c = 'd';"})
        conn = await connect(empty_db_url)  # not autocommit: migrate() handles it
        try:
            assert await migrate(conn, folder) == ["0011_d"]
            assert not conn.autocommit
            cur = await conn.execute("SELECT id, b, c FROM a")
            assert await cur.fetchall() == [{"id": 1, "b": 2, "c": "d"}]
        finally:
            await conn.close()


async def test_concurrent_migrators_apply_each_migration_once(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE a (id int);",
            "0002_insert.sql": "INSERT INTO a VALUES (1);",
        },
    )
    results: list[list[str]] = []

    async def run() -> None:
        results.append(await migrate_url(empty_db_url, folder))

    with trio.fail_after(CAP):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            nursery.start_soon(run)
        assert sorted(results) == [[], ["0001_slow", "0002_insert"]]
        conn = await connect(empty_db_url, autocommit=True)
        try:
            cur = await conn.execute("SELECT count(*) AS n FROM a")
            assert await cur.fetchone() == {"n": 1}
        finally:
            await conn.close()


async def test_failing_migration_rolls_back_and_is_not_recorded(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE a (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int);\nSELECT * FROM no_such_table;",
            "0003_after.sql": "CREATE TABLE after (id int);",
        },
    )
    with trio.fail_after(CAP):
        with pytest.raises(MigrationError) as info:
            await migrate_url(empty_db_url, folder)
        assert info.value.version == 2 and "no_such_table" in str(info.value)
        assert await recorded(empty_db_url) == [(1, "0001_ok")]
        conn = await connect(empty_db_url, autocommit=True)
        try:
            cur = await conn.execute(
                "SELECT to_regclass('half') AS half, to_regclass('after') AS after"
            )
            assert await cur.fetchone() == {"half": None, "after": None}
            # The advisory lock was released: another migrator can take it right away.
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (ADVISORY_LOCK_KEY,))
            assert await cur.fetchone() == {"ok": True}
        finally:
            await conn.close()

        write(folder, {"0002_bad.sql": "CREATE TABLE half (id int);"})
        assert await migrate_url(empty_db_url, folder) == ["0002_bad", "0003_after"]


def test_load_migrations(tmp_path: Path) -> None:
    folder = write(tmp_path / "m", {"0002_b.sql": "b", "0001_a.sql": "a", "bad.sql": "x"})
    assert [(m.version, m.name, m.sql) for m in load_migrations(folder)] == [
        (1, "0001_a", "a"),
        (2, "0002_b", "b"),
    ]
    write(folder, {"0002_other.sql": "c"})
    with pytest.raises(ValueError, match="two migrations numbered 2"):
        load_migrations(folder)
    assert load_migrations(tmp_path / "missing") == []


def test_package_migrations_are_well_formed() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
