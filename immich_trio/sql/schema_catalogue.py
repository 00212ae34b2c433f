"""The ``public`` schema's catalogue as plain data: tables (columns with type, nullability and
default; constraints; indexes; triggers), functions and enums, leaving out what extensions own.

``immich-admin schema-check`` compares the live catalogue with ``schema_snapshot.json``, the
catalogue our migrations produce on a fresh database (written by ``UPDATE_SCHEMA_SNAPSHOT=1``
running tests/cli/test_schema_check.py, which fails while the file is stale).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql.migrate import MIGRATIONS_TABLE

Catalogue = dict[str, Any]
SNAPSHOT_FILE = "schema_snapshot.json"

# Migration ledgers (ours and Immich's) describe history, not the schema.
LEDGER_TABLES = (MIGRATIONS_TABLE, "kysely_migrations", "kysely_migrations_lock")


def _not_from_extension(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass"
        f" AND e.objid = {oid} AND e.deptype = 'e')"
    )


_PUBLIC_TABLE = f"""
n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> ALL(%(ledgers)s)
AND {_not_from_extension("pg_class", "c.oid")}
"""

COLUMNS = f"""
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS "default"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE {_PUBLIC_TABLE}
ORDER BY c.relname, a.attnum
"""

# NOT NULL constraints (contype 'n', PostgreSQL 18) are the columns' nullability.
CONSTRAINTS = f"""
SELECT c.relname AS table_name, k.conname AS name, k.contype::text AS type,
       pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_PUBLIC_TABLE} AND k.contype IN ('p', 'f', 'u', 'c', 'x')
ORDER BY c.relname, k.conname
"""

# Indexes that back a primary key, unique or exclusion constraint come with the constraint.
INDEXES = f"""
SELECT c.relname AS table_name, i.relname AS name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_PUBLIC_TABLE}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid
                  AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x'))
ORDER BY c.relname, i.relname
"""

TRIGGERS = f"""
SELECT c.relname AS table_name, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_PUBLIC_TABLE} AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname
"""

FUNCTIONS = f"""
SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
       pg_get_functiondef(p.oid) AS definition
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p') AND {_not_from_extension("pg_proc", "p.oid")}
ORDER BY p.proname, 2
"""

ENUMS = f"""
SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_type t
JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND {_not_from_extension("pg_type", "t.oid")}
GROUP BY t.typname
ORDER BY t.typname
"""


async def read_catalogue(conn: AsyncConnection[Any]) -> Catalogue:
    """The live ``public`` catalogue. Expressions are printed with ``public`` alone on the
    search path, so a role's own search path cannot make identical schemas look different."""
    params = {"ledgers": list(LEDGER_TABLES)}
    tables: dict[str, dict[str, dict[str, Any]]] = {}

    def table(name: str) -> dict[str, dict[str, Any]]:
        return tables.setdefault(
            name, {"columns": {}, "constraints": {}, "indexes": {}, "triggers": {}}
        )

    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO public")
        for row in await (await conn.execute(COLUMNS, params)).fetchall():
            columns = table(row["table_name"])["columns"]
            if row["column_name"] is not None:
                columns[row["column_name"]] = {
                    "type": row["type"],
                    "nullable": row["nullable"],
                    "default": row["default"],
                }
        for row in await (await conn.execute(CONSTRAINTS, params)).fetchall():
            table(row["table_name"])["constraints"][row["name"]] = {
                "type": row["type"],
                "definition": row["definition"],
            }
        for row in await (await conn.execute(INDEXES, params)).fetchall():
            table(row["table_name"])["indexes"][row["name"]] = row["definition"]
        for row in await (await conn.execute(TRIGGERS, params)).fetchall():
            table(row["table_name"])["triggers"][row["name"]] = row["definition"]
        functions = {
            f"{row['name']}({row['arguments']})": row["definition"]
            for row in await (await conn.execute(FUNCTIONS)).fetchall()
        }
        enums = {
            row["name"]: list(row["labels"]) for row in await (await conn.execute(ENUMS)).fetchall()
        }
    return {"tables": tables, "functions": functions, "enums": enums}


def dumps(catalogue: Catalogue) -> str:
    return json.dumps(catalogue, indent=1, ensure_ascii=False) + "\n"


@cache
def _snapshot_text() -> str:
    return resources.files("immich_trio.sql").joinpath(SNAPSHOT_FILE).read_text("utf-8")


def expected_catalogue() -> Catalogue:
    """What our migrations create on a fresh database (the committed snapshot)."""
    result: Catalogue = json.loads(_snapshot_text())
    return result
