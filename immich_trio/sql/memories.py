"""Memories: the owner's memories with the assets they show, and their writes.

As Immich's ``memory.repository.ts``: a memory shows its live ``timeline`` assets (not
trashed, archived, hidden or locked), oldest first, leaving out assets with a face of a
hidden person (behaviour.md §13). The list and the statistics drop memories whose assets are
all left out (a memory with no assets at all stays). Asset dates come from JSON Immich
aggregated in PostgreSQL, so they are returned as PostgreSQL's JSON text (``<column>.json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]
Order = Literal["asc", "desc", "random"]

ASSET_DATES = ("createdAt", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt")
_DATES = ", ".join(f"""to_json(a."{c}") #>> '{{}}' AS "{c}.json\"""" for c in ASSET_DATES)

SHOWN = """a.visibility = 'timeline' AND a."deletedAt" IS NULL AND NOT EXISTS (
    SELECT FROM asset_face f JOIN person p ON p.id = f."personId"
    WHERE f."assetId" = a.id AND f."deletedAt" IS NULL AND p."isHidden")"""
"""An asset a memory shows."""

_NOT_EMPTIED = f"""(NOT EXISTS (SELECT FROM memory_asset ma WHERE ma."memoriesId" = m.id)
  OR EXISTS (SELECT FROM memory_asset ma JOIN asset a ON a.id = ma."assetId"
             WHERE ma."memoriesId" = m.id AND {SHOWN}))"""

_COLUMNS = """m.id, m."createdAt", m."updatedAt", m."deletedAt", m."memoryAt", m."seenAt",
  m."showAt", m."hideAt", m."ownerId", m.type, m.data, m."isSaved\""""

_SEARCH = f"""
SELECT {_COLUMNS} FROM memory m
WHERE m."ownerId" = %(owner)s
  AND (%(saved)s::boolean IS NULL OR m."isSaved" = %(saved)s::boolean)
  AND (%(type)s::text IS NULL OR m.type = %(type)s::text)
  AND (%(for)s::timestamptz IS NULL OR
       ((m."showAt" IS NULL OR m."showAt" <= %(for)s::timestamptz)
        AND (m."hideAt" IS NULL OR m."hideAt" >= %(for)s::timestamptz)))
  AND (m."deletedAt" IS NOT NULL) = %(trashed)s
  AND {_NOT_EMPTIED}
"""

_ORDER = {
    "asc": 'ORDER BY m."memoryAt" ASC',
    "desc": 'ORDER BY m."memoryAt" DESC',
    "random": "ORDER BY random()",
}

STATISTICS = f"SELECT count(*) AS total FROM ({_SEARCH}) AS s"

GET = f'SELECT {_COLUMNS} FROM memory m WHERE m.id = %s AND m."deletedAt" IS NULL'

ASSETS = f"""
SELECT ma."memoriesId" AS "memoryId", a.*, {_DATES}
FROM memory_asset ma JOIN asset a ON a.id = ma."assetId"
WHERE ma."memoriesId" = ANY(%s::uuid[]) AND {SHOWN}
ORDER BY a."fileCreatedAt", a.id
"""

INSERT = """
INSERT INTO memory ("ownerId", type, data, "isSaved", "memoryAt", "seenAt", "showAt", "hideAt")
VALUES (%(owner)s, %(type)s, %(data)s, %(saved)s, %(memoryAt)s, %(seenAt)s, %(showAt)s, %(hideAt)s)
RETURNING id
"""

ADD_ASSETS = """
INSERT INTO memory_asset ("memoriesId", "assetId")
SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING
"""

REMOVE_ASSETS = 'DELETE FROM memory_asset WHERE "memoriesId" = %s AND "assetId" = ANY(%s::uuid[])'

PRESENT = """
SELECT "assetId" AS id FROM memory_asset WHERE "memoriesId" = %s AND "assetId" = ANY(%s::uuid[])
"""

TOUCH = 'UPDATE memory SET "updatedAt" = now() WHERE id = %s'

DELETE = "DELETE FROM memory WHERE id = %s"

UPDATABLE = ("isSaved", "memoryAt", "seenAt")


async def _with_assets(conn: Conn, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    cur = await conn.execute(ASSETS, ([row["id"] for row in rows],))
    by_memory: dict[UUID, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    for asset in await cur.fetchall():
        by_memory[asset["memoryId"]].append(asset)
    for row in rows:
        row["assets"] = by_memory[row["id"]]
    return rows


def _search_params(owner: UUID, filters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "owner": owner,
        "saved": filters.get("isSaved"),
        "type": filters.get("type"),
        "for": filters.get("for"),
        "trashed": bool(filters.get("isTrashed")),
    }


async def search(
    conn: Conn, owner: UUID, filters: Mapping[str, Any], *, order: Order, size: int | None
) -> list[dict[str, Any]]:
    """The owner's memories matching ``filters`` (``isSaved``, ``type``, ``for``, ``isTrashed``)."""
    query = _SEARCH + _ORDER[order] + (" LIMIT %(size)s" if size is not None else "")
    cur = await conn.execute(query, {**_search_params(owner, filters), "size": size})
    return await _with_assets(conn, list(await cur.fetchall()))


async def statistics(conn: Conn, owner: UUID, filters: Mapping[str, Any]) -> int:
    cur = await conn.execute(STATISTICS, _search_params(owner, filters))
    row = await cur.fetchone()
    return int(row["total"]) if row else 0


async def get(conn: Conn, memory_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(GET, (memory_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    [loaded] = await _with_assets(conn, [row])
    return loaded


async def create(
    conn: Conn, owner: UUID, fields: Mapping[str, Any], asset_ids: Sequence[UUID]
) -> UUID:
    """A new memory with ``asset_ids`` (``fields``: type, data, isSaved, memoryAt, seenAt,
    showAt, hideAt; absent ones take the table's defaults)."""
    cur = await conn.execute(
        INSERT,
        {
            "owner": owner,
            "type": fields["type"],
            "data": Jsonb(fields["data"]),
            "saved": bool(fields.get("isSaved", False)),
            "memoryAt": fields["memoryAt"],
            "seenAt": fields.get("seenAt"),
            "showAt": fields.get("showAt"),
            "hideAt": fields.get("hideAt"),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    if asset_ids:
        await conn.execute(ADD_ASSETS, (row["id"], list(asset_ids)))
    return UUID(str(row["id"]))


async def update(conn: Conn, memory_id: UUID, changes: Mapping[str, datetime | bool]) -> None:
    """Set the given ``UPDATABLE`` columns (the schema's trigger moves ``updatedAt``)."""
    columns = [c for c in UPDATABLE if c in changes]
    if not columns:
        return
    assignments = ", ".join(f'"{c}" = %({c})s' for c in columns)
    await conn.execute(
        f"UPDATE memory SET {assignments} WHERE id = %(id)s",  # column names from UPDATABLE only
        {**{c: changes[c] for c in columns}, "id": memory_id},
    )


async def delete(conn: Conn, memory_id: UUID) -> None:
    await conn.execute(DELETE, (memory_id,))


async def present_assets(conn: Conn, memory_id: UUID, asset_ids: Sequence[UUID]) -> set[UUID]:
    """Which of ``asset_ids`` the memory holds (whatever their state)."""
    cur = await conn.execute(PRESENT, (memory_id, list(set(asset_ids))))
    return {row["id"] for row in await cur.fetchall()}


async def add_assets(conn: Conn, memory_id: UUID, asset_ids: Sequence[UUID]) -> None:
    await conn.execute(ADD_ASSETS, (memory_id, list(asset_ids)))


async def remove_assets(conn: Conn, memory_id: UUID, asset_ids: Sequence[UUID]) -> None:
    await conn.execute(REMOVE_ASSETS, (memory_id, list(asset_ids)))


async def touch(conn: Conn, memory_id: UUID) -> None:
    await conn.execute(TOUCH, (memory_id,))
