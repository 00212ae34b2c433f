"""``immich-admin schema-check``: the live ``public`` catalogue against what our migrations
create, reported in Immich's words with SQL to repair it.

The committed snapshot (immich_trio/sql/schema_snapshot.json) must equal the catalogue of a
freshly migrated database; after changing a migration, rewrite it with
``UPDATE_SCHEMA_SNAPSHOT=1`` on this module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio import admin_cli
from immich_trio.sql import schema_catalogue
from immich_trio.sql.driver import connect

Sql = Callable[..., list[tuple[Any, ...]]]
SNAPSHOT = Path(schema_catalogue.__file__).with_name(schema_catalogue.SNAPSHOT_FILE)
DRIFT_HEADER = "Detected schema drift. For more information, see https://docs.immich.app/errors#schema-drift"
SQL_HEADER = (
    "\n\nThe below SQL is automatically generated and may be helpful for resolving drift."
    " ** Use at your own risk! **\n\n```sql\n"
)


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DB_URL", db_url)
    monkeypatch.setenv("IMMICH_MEDIA_LOCATION", str(tmp_path))
    monkeypatch.delenv("IMMICH_LOG_LEVEL", raising=False)
    return tmp_path


def schema_check(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", None)
    code = admin_cli.main(["schema-check"])
    return code, capsys.readouterr().out


def drift_report(out: str) -> tuple[list[str], list[str]]:
    """The ``  - Type: text`` lines and the SQL block's statements."""
    head, _, rest = out.partition(SQL_HEADER)
    assert rest.endswith("\n```\n\n"), out
    lines = head.split(f"\n{DRIFT_HEADER}\n", 1)[1].splitlines()
    return lines, rest.removesuffix("\n```\n\n").splitlines()


def test_the_snapshot_is_what_the_migrations_create(db_url: str) -> None:
    async def read() -> schema_catalogue.Catalogue:
        conn = await connect(db_url, autocommit=True)
        try:
            return await schema_catalogue.read_catalogue(conn)
        finally:
            await conn.close()

    live = schema_catalogue.dumps(trio.run(read))
    if os.environ.get("UPDATE_SCHEMA_SNAPSHOT") == "1":
        SNAPSHOT.write_text(live, "utf-8")
    assert live == SNAPSHOT.read_text("utf-8"), (
        "schema_snapshot.json is stale: run this test with UPDATE_SCHEMA_SNAPSHOT=1"
    )
    catalogue = schema_catalogue.expected_catalogue()
    # the catalogue holds every kind of object schema-check compares
    asset = catalogue["tables"]["asset"]
    assert asset["columns"]["id"]["type"] == "uuid" and not asset["columns"]["id"]["nullable"]
    assert asset["constraints"]["asset_pkey"]["type"] == "p"
    assert asset["indexes"] and asset["triggers"]
    assert catalogue["functions"] and "immich_trio_migrations" not in catalogue["tables"]


def test_a_clean_database_has_no_drift(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema_check(capsys, monkeypatch) == (0, "Migrations are up to date\n\nNo schema drift detected\n")


def test_a_dropped_index_is_reported(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [(definition,)] = sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'asset_checksum_idx'")
    sql("DROP INDEX asset_checksum_idx")
    code, out = schema_check(capsys, monkeypatch)
    assert code == 1
    assert out.startswith(f"Migrations are up to date\n\n{DRIFT_HEADER}\n")
    lines, statements = drift_report(out)
    assert lines == ['  - IndexCreate: The index "asset"."asset_checksum_idx" is missing and needs to be created']
    assert statements == [definition + ";"]
    sql(statements[0])  # the SQL given repairs the drift
    assert schema_check(capsys, monkeypatch)[0] == 0


def test_an_added_column_is_reported(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql('ALTER TABLE album ADD COLUMN "colour" text')
    code, out = schema_check(capsys, monkeypatch)
    assert code == 1
    lines, statements = drift_report(out)
    assert lines == ['  - ColumnDrop: The column "album"."colour" exists but should be removed']
    assert statements == ['ALTER TABLE "album" DROP COLUMN "colour";']


def test_a_changed_column_type_and_nullability_are_reported(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql('ALTER TABLE album ALTER COLUMN "description" TYPE varchar(20)')
    sql('ALTER TABLE album ALTER COLUMN "order" DROP NOT NULL')
    code, out = schema_check(capsys, monkeypatch)
    assert code == 1
    lines, statements = drift_report(out)
    # as Immich's sql-tools: a new type is a drop and a re-add; nullability an alteration
    assert lines == [
        '  - ColumnDrop: The column "album"."description" exists but should be removed',
        '  - ColumnAdd: The column "album"."description" is missing and needs to be created',
        '  - ColumnAlter: The column "album"."order" has changes that need to be applied {"nullable":false}',
    ]
    assert statements == [
        'ALTER TABLE "album" DROP COLUMN "description";',
        "ALTER TABLE \"album\" ADD \"description\" text NOT NULL DEFAULT ''::text;",
        'ALTER TABLE "album" ALTER COLUMN "order" SET NOT NULL;',
    ]


def test_missing_and_extra_tables_functions_and_triggers(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql("DROP TABLE move_history")
    sql("CREATE TABLE scratch (id int)")
    sql("CREATE FUNCTION local_helper() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    [(trigger, table)] = sql(
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relname = 'asset' ORDER BY t.tgname LIMIT 1"
    )
    sql(f'DROP TRIGGER "{trigger}" ON "{table}"')
    code, out = schema_check(capsys, monkeypatch)
    assert code == 1
    lines, statements = drift_report(out)
    assert '  - FunctionDrop: The function "local_helper" exists but should be removed' in lines
    assert '  - TableDrop: The table "scratch" exists but should be removed' in lines
    assert '  - TableCreate: The table "move_history" is missing and needs to be created' in lines
    assert any(line.startswith('  - ConstraintAdd: The constraint "move_history"."') for line in lines)
    assert f'  - TriggerCreate: The trigger "asset"."{trigger}" is missing and needs to be created' in lines
    assert "DROP FUNCTION local_helper();" in statements
    assert 'DROP TABLE "scratch";' in statements
    assert any(s.startswith('CREATE TABLE "move_history" (') for s in statements)
    # drops first, then creates, so the SQL runs top to bottom
    kinds = [line.split(":")[0].strip(" -") for line in lines]
    assert kinds.index("TriggerCreate") > kinds.index("TableCreate") > kinds.index("TableDrop")


def test_a_changed_function_body_is_reported_with_its_definition(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [(original,)] = sql("SELECT pg_get_functiondef('updated_at()'::regprocedure)")
    sql(
        "CREATE OR REPLACE FUNCTION updated_at() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN new; END $$"
    )
    code, out = schema_check(capsys, monkeypatch)
    assert code == 1
    lines, statements = drift_report(out)
    assert lines == ['  - FunctionCreate: The function "updated_at" is missing and needs to be created']
    sql("\n".join(statements))  # CREATE OR REPLACE with the migrations' body
    assert sql("SELECT pg_get_functiondef('updated_at()'::regprocedure)") == [(original,)]
    assert schema_check(capsys, monkeypatch) == (0, "Migrations are up to date\n\nNo schema drift detected\n")


def test_a_failure_to_read_is_reported_as_immich_does(
    env: Path, db_url: str, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a role that may connect but read none of our tables: the report cannot be read
    role = f"reader_{os.getpid()}"
    sql(f'CREATE ROLE "{role}" LOGIN')
    try:
        monkeypatch.setenv("DB_URL", db_url.replace("postgresql://postgres", f"postgresql://{role}", 1))
        monkeypatch.setattr(sys, "stdin", None)
        code = admin_cli.main(["schema-check"])
        out, err = capsys.readouterr()
    finally:
        sql(f'DROP OWNED BY "{role}"')
        sql(f'DROP ROLE "{role}"')
    assert (code, out) == (1, "")
    assert err.endswith("\nUnable to debug migrations\n"), err
    assert "permission denied" in err
