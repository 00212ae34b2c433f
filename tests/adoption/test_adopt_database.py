"""Adopting Immich's database: the dump restored on the embedded PostgreSQL, our migrations
adding only our schema, the version check, the media prefix mapping."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import trio

from immich_trio.sql.adopt_restore import AdoptFailed, adopt_dump, missing_extensions
from immich_trio.sql.driver import connect
from immich_trio.sql.embedded import bin_path
from immich_trio.sql.immich_database import IMMICH_LAST_MIGRATION, UnsupportedImmichDatabase
from immich_trio.sql.immich_dump import rewrite_lines
from immich_trio.sql.media_location import change_media_location, stored_location
from immich_trio.sql.migrate import migrate_url
from tests.adoption.conftest import DUMP, query

CAP = 120
CATALOGUE = """
SELECT 'table ' || c.relname || ' ' || c.relkind::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
UNION ALL
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger ' || tgname || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
ORDER BY 1
"""


def test_rewrite_replaces_missing_extensions() -> None:
    lines = [
        'CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;\n',
        "COMMENT ON EXTENSION \"uuid-ossp\" IS 'x';\n",
        "CREATE EXTENSION IF NOT EXISTS vchord WITH SCHEMA public;\n",
        "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;\n",
        "CREATE INDEX clip_index ON public.smart_search USING vchordrq (embedding public.vector_cosine_ops)"
        " WITH (options='[build.rabitq]\n",
        "nlist = 1');\n",
        "CREATE INDEX other ON public.x (y);\n",
    ]
    out = "".join(rewrite_lines(lines, frozenset({"uuid-ossp", "vchord"})))
    assert "CREATE FUNCTION public.uuid_generate_v4()" in out
    assert "CREATE EXTENSION IF NOT EXISTS vector" in out
    assert 'EXISTS "uuid-ossp"' not in out and "EXISTS vchord" not in out
    assert (
        "USING hnsw (embedding public.vector_cosine_ops) WITH (ef_construction='300', m='16');\n"
        in out
    )
    assert "nlist" not in out and "CREATE INDEX other" in out
    assert "".join(rewrite_lines(lines[:2], frozenset())) == "".join(lines[:2])


async def test_embedded_server_extensions(fresh_url: str) -> None:
    with trio.fail_after(CAP):
        missing = await missing_extensions(fresh_url)
    # What the embedded PostgreSQL lacks of Immich's extensions (the rest it has).
    assert missing <= {"uuid-ossp", "vchord"}
    assert query(fresh_url, "SELECT count(*) FROM pg_available_extensions WHERE name = ANY(%s)",
                 (["vector", "cube", "earthdistance", "pg_trgm", "unaccent"],))[0][0] == 5  # fmt: skip


def test_adopted_database_keeps_immich_schema(adopted_url: str) -> None:
    # Immich's data is there, its defaults work, and our own objects are in our schema only.
    assert query(adopted_url, "SELECT count(*) FROM asset")[0][0] == 15
    assert query(adopted_url, "SELECT public.uuid_generate_v4()::text ~ '^[0-9a-f-]{36}$'")[0][0]
    assert query(adopted_url, "SELECT to_regclass('public.immich_trio_migrations')")[0][0] is None
    rows = query(adopted_url, "SELECT name, skipped FROM immich_trio.migrations ORDER BY version")
    assert ("0003_jobs", False) in rows
    assert all(skipped for name, skipped in rows if name != "0003_jobs")
    assert query(adopted_url, "SELECT to_regclass('immich_trio.job') IS NOT NULL")[0][0]


async def test_migrations_add_nothing_to_public(fresh_url: str) -> None:
    with trio.fail_after(CAP):
        applied_first = await adopt_dump(fresh_url, DUMP, bin_path() / "psql")
        before = query(fresh_url, CATALOGUE)
        assert await migrate_url(fresh_url) == []
        # Two migrators at once: both wait for the lock, neither applies anything again.
        async with trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(migrate_url, fresh_url)
    assert applied_first == ["0003_jobs"]
    assert query(fresh_url, CATALOGUE) == before
    assert not [r for r in before if "immich_trio" in r[0]]


async def test_other_immich_version_refused_before_writing(adopted_url: str) -> None:
    query(adopted_url, "DROP SCHEMA immich_trio CASCADE")
    query(adopted_url, "INSERT INTO kysely_migrations VALUES ('1799999999999-Future', now())")
    with trio.fail_after(CAP), pytest.raises(UnsupportedImmichDatabase) as info:
        await migrate_url(adopted_url)
    assert "1799999999999-Future" in str(info.value) and IMMICH_LAST_MIGRATION in str(info.value)
    assert "v3.1.0" in str(info.value)
    assert query(adopted_url, "SELECT to_regnamespace('immich_trio')")[0][0] is None


async def test_adopt_refuses_a_database_in_use(adopted_url: str, tmp_path: Path) -> None:
    with trio.fail_after(CAP), pytest.raises(AdoptFailed, match="not empty"):
        await adopt_dump(adopted_url, DUMP, bin_path() / "psql")
    broken = tmp_path / "broken.sql.gz"
    broken.write_bytes(gzip.compress(b"CREATE TABLE x (id int);\nSELECT nonsense_function();\n"))
    with trio.fail_after(CAP), pytest.raises(AdoptFailed, match="psql exited"):
        await adopt_dump(adopted_url, broken, bin_path() / "psql", replace=True)
    assert query(adopted_url, "SELECT to_regclass('public.x')")[0][0] is None


async def test_change_media_location(adopted_url: str) -> None:
    conn = await connect(adopted_url, autocommit=True)
    try:
        with trio.fail_after(CAP):
            assert await stored_location(conn) == "/data"
            changed = await change_media_location(conn, "/data/", "/srv/photos")
            assert await stored_location(conn) == "/srv/photos"
    finally:
        await conn.close()
    assert changed["asset.originalPath"] == 15
    assert changed["asset_file.path"] > 0
    for table, column in (("asset", "originalPath"), ("asset_file", "path")):
        paths = [r[0] for r in query(adopted_url, f'SELECT "{column}" FROM "{table}"')]
        assert paths and all(p.startswith("/srv/photos/") for p in paths)


async def test_half_migrated_immich_database_refused_before_writing(adopted_url: str) -> None:
    # Immich stopped part-way through its upgrade to v3.1.0: its last migration never ran.
    query(adopted_url, "DROP SCHEMA immich_trio CASCADE")
    query(adopted_url, "DELETE FROM kysely_migrations WHERE name = %s", (IMMICH_LAST_MIGRATION,))
    before = query(adopted_url, CATALOGUE)
    last = query(adopted_url, "SELECT max(name) FROM kysely_migrations")[0][0]
    with trio.fail_after(CAP), pytest.raises(UnsupportedImmichDatabase) as info:
        await migrate_url(adopted_url)
    assert last in str(info.value) and IMMICH_LAST_MIGRATION in str(info.value)
    assert query(adopted_url, "SELECT to_regnamespace('immich_trio')")[0][0] is None
    assert query(adopted_url, CATALOGUE) == before
