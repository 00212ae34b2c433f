"""Queries behind the ``immich-admin`` commands: the admin account, a user by e-mail, and
the schema report (migrations applied or not, and drift from what they create)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.sql.driver import TrioConnection
from immich_trio.sql.immich_database import read_ledger
from immich_trio.sql.migrate import (
    ADOPTED_MIGRATIONS_TABLE,
    MIGRATIONS_TABLE,
    SELECT_APPLIED,
    load_migrations,
)
from immich_trio.sql.schema_catalogue import expected_catalogue, read_catalogue
from immich_trio.sql.schema_drift import DriftItem, compare

# Immich's getAdmin: the admin that is not deleted (the oldest when there are several).
GET_ADMIN = """
SELECT id, email, name, "oauthId" FROM "user"
WHERE "isAdmin" AND "deletedAt" IS NULL ORDER BY "createdAt" LIMIT 1
"""
# Immich's getByEmail: deleted users are not found.
ID_BY_EMAIL = 'SELECT id FROM "user" WHERE email = %s AND "deletedAt" IS NULL'
LEDGER_EXISTS = "SELECT to_regclass(%s) IS NOT NULL AS present"


async def get_admin(conn: AsyncConnection[Any]) -> dict[str, Any] | None:
    cur = await conn.execute(GET_ADMIN)
    return await cur.fetchone()


async def id_by_email(conn: AsyncConnection[Any], email: str) -> UUID | None:
    cur = await conn.execute(ID_BY_EMAIL, (email,))
    row = await cur.fetchone()
    return row["id"] if row else None


@attrs.frozen
class MigrationStatus:
    name: str
    status: str  # "applied", "missing" (a file not applied) or "deleted" (applied, no file)


async def migration_report(conn: TrioConnection[Any]) -> list[MigrationStatus]:
    """Each of our migrations, applied or not, and applied ones whose file is gone."""
    adopted = await read_ledger(conn) is not None
    table = ADOPTED_MIGRATIONS_TABLE if adopted else MIGRATIONS_TABLE
    cur = await conn.execute(LEDGER_EXISTS, (table,))
    row = await cur.fetchone()
    applied: dict[int, str] = {}
    if row is not None and row["present"]:
        cur = await conn.execute(SELECT_APPLIED.format(table=table).encode())
        applied = {r["version"]: r["name"] for r in await cur.fetchall()}
    files = load_migrations()
    report = [
        MigrationStatus(m.name, "applied" if m.version in applied else "missing") for m in files
    ]
    on_disk = {m.version for m in files}
    report += [
        MigrationStatus(name, "deleted")
        for version, name in sorted(applied.items())
        if version not in on_disk
    ]
    return report


async def schema_drift(conn: AsyncConnection[Any]) -> list[DriftItem]:
    """How the database's ``public`` schema differs from what our migrations create."""
    return compare(expected_catalogue(), await read_catalogue(conn))
