"""Recognising an Immich database we are asked to adopt.

Immich records its schema migrations in ``public.kysely_migrations`` (name, timestamp). A
database holding that table is Immich's: its ``public`` schema is Immich's to change, so our
migrations add only our own objects (schema ``immich_trio``) and record themselves there too.
We speak exactly the schema of Immich v3.1.0, so the last Immich migration must be the one
v3.1.0 ships; any other is refused before anything is written."""

from __future__ import annotations

from typing import Any

import attrs

from .driver import TrioConnection

IMMICH_VERSION = "v3.1.0"
# The last schema migration of Immich v3.1.0 (server/src/schema/migrations/).
IMMICH_LAST_MIGRATION = "1784836013770-MinFacePreferenceMigration"

_LEDGER = "SELECT to_regclass('public.kysely_migrations') IS NOT NULL AS present"
# Kysely applies (and orders) migrations by name, a millisecond timestamp first.
_LAST = "SELECT name FROM public.kysely_migrations ORDER BY name DESC LIMIT 1"


class UnsupportedImmichDatabase(Exception):
    """The database is Immich's, but of a schema version this server does not speak."""


@attrs.frozen(kw_only=True)
class ImmichLedger:
    last_migration: str | None


def _value(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, dict) else row[0]


async def read_ledger(conn: TrioConnection[Any]) -> ImmichLedger | None:
    """Immich's migration ledger, or None when the database is not Immich's."""
    cur = await conn.execute(_LEDGER)
    row = await cur.fetchone()
    if row is None or not _value(row, "present"):
        return None
    cur = await conn.execute(_LAST)
    last = await cur.fetchone()
    return ImmichLedger(last_migration=None if last is None else str(_value(last, "name")))


def check_supported(ledger: ImmichLedger) -> None:
    """Raise UnsupportedImmichDatabase unless the ledger ends at v3.1.0's last migration."""
    if ledger.last_migration == IMMICH_LAST_MIGRATION:
        return
    found = ledger.last_migration or "no migration at all"
    raise UnsupportedImmichDatabase(
        f"This database was written by another version of Immich: its last migration is {found},"
        f" Immich {IMMICH_VERSION} (the version this server speaks) ends at {IMMICH_LAST_MIGRATION}."
        f" Upgrade or downgrade Immich to {IMMICH_VERSION}, start it once on this database, stop it,"
        " then start this server. Nothing was written."
    )
