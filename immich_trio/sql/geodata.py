"""Loading the reverse-geocoding tables: ``geodata_places`` and ``naturalearth_countries``.

One transaction replaces both tables' rows by COPY, (re)creates Immich's indexes on
``geodata_places`` and records ``reverse-geocoding-state`` in ``system_metadata``, under an
advisory lock so that processes starting together load once. Readers see the old rows (or
none) until the import's TRUNCATE, then wait for its commit (a few seconds, once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

from immich_trio.sql import system_metadata

Conn = AsyncConnection[Any]

LOCK = "SELECT pg_advisory_xact_lock(hashtext('immich-trio:geodata-import'))"

PLACE_COLUMNS = (
    "id", "name", "longitude", "latitude", "countryCode", "admin1Code", "admin2Code",
    "modificationDate", "admin1Name", "admin2Name", "alternateNames",
)
"""The order of a place row as the loaders produce it."""

PLACE_INDEXES = (
    'CREATE INDEX IF NOT EXISTS "IDX_geodata_gist_earthcoord" ON geodata_places'
    " USING gist (ll_to_earth_public(latitude, longitude))",
    "CREATE INDEX IF NOT EXISTS idx_geodata_places_name ON geodata_places"
    " USING gin (f_unaccent(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS idx_geodata_places_admin1_name ON geodata_places"
    ' USING gin (f_unaccent("admin1Name") gin_trgm_ops)',
    "CREATE INDEX IF NOT EXISTS idx_geodata_places_admin2_name ON geodata_places"
    ' USING gin (f_unaccent("admin2Name") gin_trgm_ops)',
    "CREATE INDEX IF NOT EXISTS idx_geodata_places_alternate_names ON geodata_places"
    ' USING gin (f_unaccent("alternateNames") gin_trgm_ops)',
)
DROP_PLACE_INDEXES = (
    'DROP INDEX IF EXISTS "IDX_geodata_gist_earthcoord", idx_geodata_places_name,'
    " idx_geodata_places_admin1_name, idx_geodata_places_admin2_name,"
    " idx_geodata_places_alternate_names"
)


async def state(conn: Conn) -> dict[str, Any] | None:
    """The recorded ``reverse-geocoding-state`` (``lastUpdate``, ``lastImportFileName``)."""
    value = await system_metadata.get(conn, system_metadata.REVERSE_GEOCODING_STATE)
    return value if isinstance(value, dict) else None


async def lock(conn: Conn) -> None:
    """Hold the import lock until the caller's transaction ends."""
    await conn.execute(LOCK)


async def replace_places(conn: Conn, chunks: Iterable[bytes]) -> int:
    """Empty ``geodata_places`` and COPY the rows in (COPY text in ``PLACE_COLUMNS``
    order), indexes built after the rows. Answers the row count."""
    await conn.execute(DROP_PLACE_INDEXES)
    await conn.execute("TRUNCATE geodata_places")
    cols = ", ".join(f'"{c}"' for c in PLACE_COLUMNS)
    count = 0
    cur = conn.cursor()
    async with cur.copy(f"COPY geodata_places ({cols}) FROM STDIN") as copy:
        for chunk in chunks:
            await copy.write(chunk)
            count += chunk.count(b"\n")
    for statement in PLACE_INDEXES:
        await conn.execute(statement)
    await conn.execute("ANALYZE geodata_places")
    return count


async def replace_countries(conn: Conn, chunks: Iterable[bytes]) -> int:
    """Empty ``naturalearth_countries`` and COPY the rows in (COPY text of ``admin``,
    ``admin_a3``, ``type``, ``coordinates``; ids restart at 1). Answers the row count."""
    await conn.execute("TRUNCATE naturalearth_countries RESTART IDENTITY")
    count = 0
    cur = conn.cursor()
    async with cur.copy("COPY naturalearth_countries (admin, admin_a3, type, coordinates) FROM STDIN") as copy:
        for chunk in chunks:
            await copy.write(chunk)
            count += chunk.count(b"\n")
    return count


async def record_state(conn: Conn, last_update: str, file_name: str) -> None:
    await system_metadata.set_value(
        conn,
        system_metadata.REVERSE_GEOCODING_STATE,
        {"lastUpdate": last_update, "lastImportFileName": file_name},
    )
