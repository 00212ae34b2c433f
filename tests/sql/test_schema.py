"""The numbered migrations build Immich v3.1's schema, as described by schema.json.

The migrations are applied by hand (one transaction per file, in order), the catalog is
read back from pg_catalog and compared with the reference; the trigger functions written
for this project are then exercised on real rows.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

MIGRATIONS = Path(__file__).resolve().parents[2] / "immich_trio" / "sql" / "migrations"
VECTOR_TABLES = {"smart_search", "face_search"}
# The migration runner's bookkeeping table, not part of Immich's schema.
OWN_TABLES = {"immich_trio_migrations"}
# Indexes (and triggers) this project adds for its own queries (migrations 0004+); nothing else
# may differ.
OWN_INDEX_PREFIX = "immich_trio_"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

Json = dict[str, Any]


def apply_migrations(url: str) -> None:
    files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert files, f"no migrations in {MIGRATIONS}"
    for path in files:
        with psycopg.connect(url, autocommit=False) as conn:
            conn.execute(path.read_text())  # the context manager commits


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> Json:
    path = reference_dir / "schema.json"
    if not path.is_file():
        pytest.skip(f"schema reference not found at {path}")
    data: Json = json.loads(path.read_text())
    return data


@pytest.fixture
def conn(empty_db_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as connection:
        yield connection


def has_vector(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None
    )


def expected_tables(reference: Json, conn: psycopg.Connection[tuple[Any, ...]]) -> Json:
    tables: Json = reference["tables"]
    if has_vector(conn):
        return tables
    return {name: t for name, t in tables.items() if name not in VECTOR_TABLES}


_CAST = re.compile(
    r"::\"?[a-z_][a-z0-9_]*\"?"
    r"(?: varying| precision| with(?:out)? time zone)?(?:\(\d+\))?(?:\[\])?",
    re.IGNORECASE,
)


def norm_expr(sql: str) -> str:
    """Make SQL expressions comparable: no casts, parentheses, blanks or case."""
    sql = _CAST.sub("", sql)
    return re.sub(r"[()\s\"]", "", sql).lower()


def norm_default(sql: str | None) -> str | None:
    if sql is None:
        return None
    return _CAST.sub("", sql.replace("uuid_generate_v4()", "gen_random_uuid()"))


# --- catalog --------------------------------------------------------------------------


def public_rows(conn: psycopg.Connection[tuple[Any, ...]], query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()


def test_tables_and_columns(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    tables = expected_tables(reference, conn)
    actual_tables = {
        name
        for (name,) in public_rows(
            conn,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
        )
    }
    assert actual_tables - OWN_TABLES == set(tables)
    assert "kysely_migrations" not in actual_tables

    rows = public_rows(
        conn,
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attstorage, t.typstorage
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum
        """,
    )
    storages = {"e": "external", "x": "extended", "m": "main", "p": "plain"}
    actual: dict[str, list[tuple[Any, ...]]] = {}
    type_storage: dict[tuple[str, str], str] = {}
    for table, column, type_, notnull, default, identity, storage, default_storage in rows:
        if identity == "a":
            default = "GENERATED ALWAYS AS IDENTITY"
        actual.setdefault(table, []).append(
            (column, type_, not notnull, norm_default(default), storages[storage])
        )
        type_storage[table, column] = storages[default_storage]
    for name, table in tables.items():
        expected = [
            (
                c["name"], c["type"], c["nullable"], norm_default(c.get("default")),
                c.get("storage", type_storage.get((name, c["name"]))),
            )
            for c in table["columns"]
        ]  # fmt: skip
        assert actual[name] == expected, name


def test_constraints(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    rows = public_rows(
        conn,
        """
        SELECT c.relname, k.conname, k.contype,
               ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                     ORDER BY u.i)::text[],
               f.relname,
               ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(n, i)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
                     ORDER BY u.i)::text[],
               k.confdeltype, k.confupdtype, k.condeferrable, k.condeferred,
               pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class f ON f.oid = k.confrelid
        WHERE n.nspname = 'public' AND k.contype IN ('p', 'f', 'u', 'c')
        """,
    )
    actual: set[tuple[Any, ...]] = set()
    for table, name, kind, columns, *foreign, definition in rows:
        if table in OWN_TABLES:
            continue
        if kind == "f":
            target, target_cols, on_del, on_upd, deferrable, deferred = foreign
            deferral = (
                ("DEFERRABLE INITIALLY DEFERRED" if deferred else "DEFERRABLE INITIALLY IMMEDIATE")
                if deferrable
                else None
            )
            ref = f"{target}({','.join(target_cols)})"
            actual.add(
                (
                    table,
                    "f",
                    name,
                    tuple(columns),
                    ref,
                    FK_ACTIONS[on_del],
                    FK_ACTIONS[on_upd],
                    deferral,
                )
            )
        elif kind == "c":
            actual.add((table, "c", name, norm_expr(definition.removeprefix("CHECK"))))
        else:
            actual.add((table, kind, name, tuple(columns)))

    expected: set[tuple[Any, ...]] = set()
    for table, spec in expected_tables(reference, conn).items():
        expected.add((table, "p", spec["primaryKey"]["name"], tuple(spec["primaryKey"]["columns"])))
        for fk in spec.get("foreignKeys", []):
            expected.add(
                (
                    table, "f", fk["name"], tuple(fk["columns"]), fk["references"],
                    fk["onDelete"], fk["onUpdate"], fk.get("deferrable"),
                )
            )  # fmt: skip
        for uq in spec.get("uniqueConstraints", []):
            expected.add((table, "u", uq["name"], tuple(uq["columns"])))
        for check in spec.get("checkConstraints", []):
            expected.add((table, "c", check["name"], norm_expr(check["expression"])))
    assert sorted(actual - expected, key=str) == []
    assert sorted(expected - actual, key=str) == []


def test_indexes(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    rows = public_rows(
        conn,
        """
        SELECT t.relname, i.relname, x.indisunique, am.amname,
               ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS u(n, o)
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n
                     ORDER BY u.o)::text[],
               x.indexprs IS NOT NULL, pg_get_expr(x.indpred, x.indrelid),
               pg_get_indexdef(x.indexrelid), i.reloptions
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_am am ON am.oid = i.relam
        WHERE n.nspname = 'public'
        """,
    )
    actual = {(table, name): rest for table, name, *rest in rows if table not in OWN_TABLES}

    expected_names = set()
    for table, spec in expected_tables(reference, conn).items():
        expected_names.add((table, spec["primaryKey"]["name"]))
        expected_names |= {(table, uq["name"]) for uq in spec.get("uniqueConstraints", [])}
        for index in spec.get("indexes", []):
            key = (table, index["name"])
            expected_names.add(key)
            assert key in actual, key
            unique, method, columns, has_exprs, predicate, definition, options = actual[key]
            assert unique == bool(index.get("unique")), key
            assert method == index.get("using", "btree"), key
            if "columns" in index:
                assert (columns, has_exprs) == (index["columns"], False), key
            else:  # an expression, or a column with an operator class
                assert norm_expr(index["expression"]) in norm_expr(definition), key
            if "where" in index:
                assert predicate is not None, key
                assert norm_expr(predicate) == norm_expr(index["where"]), key
            else:
                assert predicate is None, key
            if "with" in index:
                assert sorted(options) == sorted(
                    o.replace(" ", "") for o in index["with"].split(",")
                ), key
    own = {key for key in actual if key[1].startswith(OWN_INDEX_PREFIX)}
    assert not own & expected_names
    assert set(actual) - own == expected_names


def test_enums(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    rows = public_rows(
        conn,
        """
        SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[]
        FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' GROUP BY t.typname
        """,
    )
    assert dict(rows) == reference["enums"]


def test_functions(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    rows = public_rows(
        conn,
        """
        SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel,
               pg_get_function_result(p.oid), l.lanname
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = 'public' AND NOT EXISTS (
            SELECT 1 FROM pg_depend d
            WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        """,
    )
    actual = {name: rest for name, *rest in rows}
    assert set(actual) == {f["name"] for f in reference["functions"]}
    for function in reference["functions"]:
        volatile, strict, parallel, result, language = actual[function["name"]]
        attributes = function["attributes"]
        assert language == ("sql" if attributes.startswith("SQL") else "plpgsql")
        assert result.removeprefix("public.") == function["returns"].removeprefix("public.")
        assert (volatile == "i") == ("IMMUTABLE" in attributes), function["name"]
        assert strict == ("STRICT" in attributes), function["name"]
        assert (parallel == "s") == ("PARALLEL SAFE" in attributes), function["name"]


_TRIGGER_WHEN = re.compile(r" WHEN \((.*)\) EXECUTE ")


def test_triggers(conn: psycopg.Connection[tuple[Any, ...]], reference: Json) -> None:
    rows = public_rows(
        conn,
        """
        SELECT c.relname, t.tgname, t.tgtype, p.proname, t.tgoldtable, t.tgnewtable,
               pg_get_triggerdef(t.oid)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        """,
    )
    actual = set()
    for table, name, tgtype, function, old_table, new_table, definition in rows:
        if name.startswith(OWN_INDEX_PREFIX):
            continue  # ours (0006: the kept map markers), as our indexes
        events = tuple(
            event
            for bit, event in ((4, "insert"), (8, "delete"), (16, "update"), (32, "truncate"))
            if tgtype & bit
        )
        when = _TRIGGER_WHEN.search(definition)
        actual.add(
            (
                table, name, "before" if tgtype & 2 else "after", events,
                "row" if tgtype & 1 else "statement", function, old_table, new_table,
                norm_expr(when.group(1)) if when else None,
            )
        )  # fmt: skip
    expected = set()
    for table, spec in expected_tables(reference, conn).items():
        for trigger in spec.get("triggers", []):
            expected.add(
                (
                    table, trigger["name"], trigger["timing"], tuple(trigger["events"]),
                    trigger["scope"], trigger["function"], trigger.get("referencingOldTableAs"),
                    trigger.get("referencingNewTableAs"),
                    norm_expr(trigger["when"]) if "when" in trigger else None,
                )
            )  # fmt: skip
    assert sorted(actual - expected, key=str) == []
    assert sorted(expected - actual, key=str) == []


# --- behaviour ------------------------------------------------------------------------


def new_user(conn: psycopg.Connection[tuple[Any, ...]], email: str) -> uuid.UUID:
    row = conn.execute('INSERT INTO "user" (email) VALUES (%s) RETURNING id', [email]).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def new_asset(
    conn: psycopg.Connection[tuple[Any, ...]],
    owner: uuid.UUID,
    checksum: bytes,
    library: uuid.UUID | None = None,
) -> uuid.UUID:
    row = conn.execute(
        """
        INSERT INTO asset ("ownerId", type, "originalPath", "originalFileName", checksum,
            "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "libraryId")
        VALUES (%(owner)s, 'IMAGE', %(path)s, 'a.jpg', %(checksum)s, 'sha1', now(), now(), now(),
            %(library)s)
        RETURNING id
        """,
        {
            "owner": owner,
            "path": f"/upload/{uuid.uuid4()}.jpg",
            "checksum": checksum,
            "library": library,
        },
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def uuid_ms(value: uuid.UUID) -> int:
    return int(value.hex[:12], 16)


def count(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> int:
    row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_uuid_v7_encodes_current_unix_ms(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    before = int(time.time() * 1000)
    row = conn.execute(
        "SELECT immich_uuid_v7(), immich_uuid_v7('2020-01-01T00:00:00.123Z'),"
        " array(SELECT immich_uuid_v7() FROM generate_series(1, 50))"
    ).fetchone()
    after = int(time.time() * 1000)
    assert row is not None
    now_id, fixed_id, many = row
    for value in [now_id, fixed_id, *many]:
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
    assert before - 5 <= uuid_ms(now_id) <= after + 5
    assert uuid_ms(fixed_id) == 1577836800123
    assert len(set(many)) == 50
    assert [uuid_ms(v) for v in many] == sorted(uuid_ms(v) for v in many)


def test_updated_at_trigger_bumps_user(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    user = new_user(conn, "a@example.com")
    before = conn.execute(
        'SELECT "updatedAt", "updateId" FROM "user" WHERE id = %s', [user]
    ).fetchone()
    after = conn.execute(
        'UPDATE "user" SET name = %s WHERE id = %s RETURNING "updatedAt", "updateId"', ["A", user]
    ).fetchone()
    assert before is not None and after is not None
    assert after[0] > before[0]
    assert after[1] != before[1] and after[1].version == 7
    # updateId is derived from the same instant as updatedAt.
    assert uuid_ms(after[1]) == (after[0] - EPOCH) // timedelta(milliseconds=1)


def test_asset_delete_writes_one_audit_row(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    owner = new_user(conn, "a@example.com")
    asset = new_asset(conn, owner, b"1" * 20)
    kept = new_asset(conn, owner, b"2" * 20)
    conn.execute("DELETE FROM asset WHERE id = %s", [asset])
    rows = conn.execute('SELECT "assetId", "ownerId" FROM asset_audit').fetchall()
    assert rows == [(asset, owner)]
    # Rows removed by a cascade are not audited: the user's deletion is what clients see.
    conn.execute('DELETE FROM "user" WHERE id = %s', [owner])
    assert count(conn, "asset_audit") == 1
    assert conn.execute('SELECT "userId" FROM user_audit').fetchall() == [(owner,)]
    assert conn.execute("SELECT 1 FROM asset WHERE id = %s", [kept]).fetchone() is None


def test_duplicate_checksum_violates_uq(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    owner = new_user(conn, "a@example.com")
    new_asset(conn, owner, b"x" * 20)
    with pytest.raises(psycopg.errors.UniqueViolation) as caught:
        new_asset(conn, owner, b"x" * 20)
    assert caught.value.diag.constraint_name == "UQ_assets_owner_checksum"
    # The same file may also live in an external library, once per library.
    library = conn.execute(
        """INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns")
        VALUES ('lib', %s, '{}', '{}') RETURNING id""",
        [owner],
    ).fetchone()
    assert library is not None
    new_asset(conn, owner, b"x" * 20, library=library[0])
    with pytest.raises(psycopg.errors.UniqueViolation) as caught:
        new_asset(conn, owner, b"x" * 20, library=library[0])
    assert caught.value.diag.constraint_name == "asset_ownerId_libraryId_checksum_idx"


def test_album_triggers(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    owner = new_user(conn, "owner@example.com")
    member = new_user(conn, "member@example.com")
    assets = [new_asset(conn, owner, bytes([i]) * 20) for i in range(2)]
    row = conn.execute('INSERT INTO album DEFAULT VALUES RETURNING id, "updateId"').fetchone()
    assert row is not None
    album, update_id = row

    def album_update_id() -> uuid.UUID:
        row = conn.execute('SELECT "updateId" FROM album WHERE id = %s', [album]).fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    conn.execute(
        """INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, 'owner')""",
        [album, owner],
    )
    assert album_update_id() == update_id  # creating the album does not bump it
    conn.execute('INSERT INTO album_user ("albumId", "userId") VALUES (%s, %s)', [album, member])
    assert album_update_id() != update_id  # adding a member does
    conn.cursor().executemany(
        'INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)',
        [(album, a) for a in assets],
    )

    conn.execute("DELETE FROM asset WHERE id = %s", [assets[0]])
    assert conn.execute('SELECT "albumId", "assetId" FROM album_asset_audit').fetchall() == [
        (album, assets[0])
    ]

    def audited() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        query = 'SELECT "albumId", "userId" FROM {}'
        return (
            sorted(conn.execute(query.format("album_audit")).fetchall()),
            sorted(conn.execute(query.format("album_user_audit")).fetchall()),
        )

    # A member's account goes away (one level of cascade): the album disappears for them.
    conn.execute('DELETE FROM "user" WHERE id = %s', [member])
    assert audited() == ([(album, member)], [(album, member)])

    # Deleting the album audits every membership and no album_asset row.
    conn.execute("DELETE FROM album WHERE id = %s", [album])
    assert count(conn, "album_asset_audit") == 0  # the FK cascade removed the earlier row
    both = sorted([(album, member), (album, owner)])
    assert audited() == (both, both)


def test_memory_triggers(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    owner = new_user(conn, "a@example.com")
    assets = [new_asset(conn, owner, bytes([i]) * 20) for i in range(2)]
    row = conn.execute(
        """INSERT INTO memory ("ownerId", type, data, "memoryAt")
        VALUES (%s, 'on_this_day', '{}', now()) RETURNING id""",
        [owner],
    ).fetchone()
    assert row is not None
    memory = row[0]
    conn.cursor().executemany(
        'INSERT INTO memory_asset ("memoriesId", "assetId") VALUES (%s, %s)',
        [(memory, a) for a in assets],
    )
    conn.execute("DELETE FROM asset WHERE id = %s", [assets[0]])
    rows = conn.execute('SELECT "memoryId", "assetId" FROM memory_asset_audit').fetchall()
    assert rows == [(memory, assets[0])]
    conn.execute("DELETE FROM memory WHERE id = %s", [memory])
    assert conn.execute('SELECT "memoryId", "userId" FROM memory_audit').fetchall() == [
        (memory, owner)
    ]
    assert count(conn, "memory_asset_audit") == 0  # cascaded with its memory, none added


def test_asset_edit_maintains_is_edited(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    owner = new_user(conn, "a@example.com")
    asset = new_asset(conn, owner, b"e" * 20)

    def is_edited() -> bool:
        row = conn.execute('SELECT "isEdited" FROM asset WHERE id = %s', [asset]).fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    conn.cursor().executemany(
        """INSERT INTO asset_edit ("assetId", action, parameters, sequence)
        VALUES (%s, 'rotate', '{}', %s)""",
        [(asset, 0), (asset, 1)],
    )
    assert is_edited()
    conn.execute('DELETE FROM asset_edit WHERE "assetId" = %s AND sequence = 0', [asset])
    assert is_edited()
    conn.execute('DELETE FROM asset_edit WHERE "assetId" = %s', [asset])
    assert not is_edited()
    assert count(conn, "asset_edit_audit") == 2


def test_search_helpers(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    row = conn.execute(
        """
        SELECT f_unaccent('Ça Éléphant'), f_concat_ws(' ', ARRAY['a', 'b']),
               earth_distance(ll_to_earth_public(48.8566, 2.3522), ll_to_earth_public(51.5072, -0.1276)),
               earth_box(ll_to_earth_public(48.8566, 2.3522), 5000) @> ll_to_earth_public(48.86, 2.35)
        """
    ).fetchone()
    assert row is not None
    unaccented, joined, paris_london_m, inside = row
    assert (unaccented, joined, inside) == ("Ca Elephant", "a b", True)
    assert 340_000 < paris_london_m < 346_000


def test_vector_tables(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    if not has_vector(conn):
        pytest.skip("no vector extension on this server")
    owner = new_user(conn, "a@example.com")
    assets = [new_asset(conn, owner, bytes([i]) * 20) for i in range(2)]
    for i, asset in enumerate(assets):
        embedding = "[" + ",".join(["1"] * (i + 1) + ["0"] * (511 - i)) + "]"
        conn.execute(
            'INSERT INTO smart_search ("assetId", embedding) VALUES (%s, %s::vector)',
            [asset, embedding],
        )
    probe = "[" + ",".join(["1"] + ["0"] * 511) + "]"
    rows = conn.execute(
        'SELECT "assetId" FROM smart_search ORDER BY embedding <=> %s::vector', [probe]
    ).fetchall()
    assert [r[0] for r in rows] == assets
    # Kept in the row, not the TOAST table (0007): a distance needs no second lookup.
    chunks = conn.execute("SELECT pg_column_toast_chunk_id(embedding) FROM smart_search").fetchall()
    assert chunks == [(None,), (None,)]
    conn.execute("DELETE FROM asset WHERE id = %s", [assets[0]])
    assert count(conn, "smart_search") == 1
