"""Stacks: a user's bursts and RAW+JPEG pairs, one ``stack`` row naming its primary asset and
``asset."stackId"`` on every member.

As Immich's stack repository loads them, a stack's assets are its live members (not trashed,
visibility ``timeline`` or ``archive``) that have an exif row, each with its exif (and, for a
single stack read or update, its tags). Immich aggregates them to JSON in PostgreSQL, so their
dates are returned as PostgreSQL's JSON text (``<column>.json``) beside the row.
Every write is one statement over the whole id set; deleting a stack clears ``stackId`` on its
assets (the foreign key's ``SET NULL``) and fills ``stack_audit`` through the schema's trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.assets.info import EXIF_JSON

Conn = AsyncConnection[Any]

ASSET_DATES = ("createdAt", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt")
_DATES = ", ".join(f"""to_json(a."{c}") #>> '{{}}' AS "{c}.json\"""" for c in ASSET_DATES)

_TAGS = """(SELECT coalesce(json_agg(json_build_object(
        'id', t.id, 'parentId', t."parentId", 'value', t.value, 'createdAt', t."createdAt",
        'updatedAt', t."updatedAt", 'color', t.color) ORDER BY t.value), '[]'::json)
     FROM tag t JOIN tag_asset ta ON ta."tagId" = t.id WHERE ta."assetId" = a.id)"""

_STACK_ASSETS = """
SELECT a.*, {dates}, {exif} AS "exifInfo", {tags} AS tags
FROM asset a
WHERE a."stackId" = ANY(%s::uuid[]) AND a."deletedAt" IS NULL
  AND a.visibility IN ('archive', 'timeline')
  AND EXISTS (SELECT FROM asset_exif e WHERE e."assetId" = a.id)
ORDER BY a."stackId", a."createdAt", a.id
"""
STACK_ASSETS = _STACK_ASSETS.format(dates=_DATES, exif=EXIF_JSON, tags="NULL::json")
STACK_ASSETS_WITH_TAGS = _STACK_ASSETS.format(dates=_DATES, exif=EXIF_JSON, tags=_TAGS)

SEARCH = """
SELECT s.id, s."primaryAssetId" FROM stack s
WHERE s."ownerId" = %(owner)s
  AND (%(primary)s::uuid IS NULL OR s."primaryAssetId" = %(primary)s::uuid)
ORDER BY s."createdAt", s.id
"""

GET = """SELECT s.id, s."primaryAssetId" FROM stack s WHERE s.id = %s"""

# The caller's stacks whose primary asset is among the new stack's assets, and their live
# members: Immich merges those stacks into the new one.
MERGED = """
WITH old AS (
    SELECT s.id FROM stack s
    WHERE s."ownerId" = %(owner)s AND s."primaryAssetId" = ANY(%(ids)s::uuid[])
    FOR UPDATE
)
SELECT ARRAY(SELECT id FROM old) AS stacks,
       ARRAY(SELECT a.id FROM asset a JOIN old ON a."stackId" = old.id
             WHERE a."deletedAt" IS NULL) AS members
"""

INSERT = """
INSERT INTO stack ("ownerId", "primaryAssetId") VALUES (%s, %s) RETURNING id, "primaryAssetId"
"""

JOIN_STACK = """
UPDATE asset SET "stackId" = %s, "updatedAt" = now() WHERE id = ANY(%s::uuid[])
"""

SET_PRIMARY = """
UPDATE stack SET "primaryAssetId" = coalesce(%s, "primaryAssetId") WHERE id = %s
RETURNING id, "primaryAssetId"
"""

DELETE = """DELETE FROM stack WHERE id = ANY(%s::uuid[])"""

# The stack an asset is in (nulls when the asset is in none; no row when it does not exist).
STACK_OF_ASSET = """
SELECT a."stackId", s."primaryAssetId" FROM asset a
LEFT JOIN stack s ON s.id = a."stackId"
WHERE a.id = %s
"""

# Before its primary asset is deleted, a stack of more than two gets another primary (its
# oldest other asset) and a smaller one is dissolved, as Immich's asset deletion does.
RELEASE_PRIMARY = """
WITH s AS (
    SELECT s.id,
           (SELECT count(*) FROM asset m WHERE m."stackId" = s.id) AS size,
           (SELECT m.id FROM asset m WHERE m."stackId" = s.id AND m.id <> s."primaryAssetId"
            ORDER BY m."createdAt", m.id LIMIT 1) AS next
    FROM stack s WHERE s."primaryAssetId" = %(asset)s
), promoted AS (
    UPDATE stack SET "primaryAssetId" = s.next FROM s WHERE stack.id = s.id AND s.size > 2
)
DELETE FROM stack USING s WHERE stack.id = s.id AND s.size <= 2
"""

LEAVE_STACK = """UPDATE asset SET "stackId" = NULL WHERE id = %s"""


async def stack_assets(
    conn: Conn, stack_ids: Sequence[UUID], *, with_tags: bool
) -> dict[UUID, list[dict[str, Any]]]:
    """The assets Immich shows of each stack, by stack id."""
    query = STACK_ASSETS_WITH_TAGS if with_tags else STACK_ASSETS
    out: dict[UUID, list[dict[str, Any]]] = {s: [] for s in stack_ids}
    if not stack_ids:
        return out
    cur = await conn.execute(query, (list(stack_ids),))
    for row in await cur.fetchall():
        out[row["stackId"]].append(row)
    return out


async def search(conn: Conn, owner_id: UUID, primary_asset_id: UUID | None) -> list[dict[str, Any]]:
    cur = await conn.execute(SEARCH, {"owner": owner_id, "primary": primary_asset_id})
    return await cur.fetchall()


async def get(conn: Conn, stack_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(GET, (stack_id,))
    return await cur.fetchone()


async def create(conn: Conn, owner_id: UUID, asset_ids: Sequence[UUID]) -> dict[str, Any]:
    """A new stack of ``asset_ids`` (the first is primary), merging the caller's stacks whose
    primary asset is among them, as Immich does: their live members join the new stack."""
    cur = await conn.execute(MERGED, {"owner": owner_id, "ids": list(asset_ids)})
    merged = await cur.fetchone()
    assert merged is not None
    if merged["stacks"]:
        await conn.execute(DELETE, (merged["stacks"],))
    cur = await conn.execute(INSERT, (owner_id, asset_ids[0]))
    stack: dict[str, Any] | None = await cur.fetchone()
    assert stack is not None
    members = list(dict.fromkeys([*asset_ids, *merged["members"]]))
    await conn.execute(JOIN_STACK, (stack["id"], members))
    return stack


async def set_primary(conn: Conn, stack_id: UUID, primary_asset_id: UUID | None) -> dict[str, Any] | None:
    """Touch the stack (``updatedAt``), with a new primary asset when one is given."""
    cur = await conn.execute(SET_PRIMARY, (primary_asset_id, stack_id))
    return await cur.fetchone()


async def delete(conn: Conn, stack_ids: Sequence[UUID]) -> None:
    await conn.execute(DELETE, (list(stack_ids),))


async def stack_of_asset(conn: Conn, asset_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(STACK_OF_ASSET, (asset_id,))
    return await cur.fetchone()


async def release_primary(conn: Conn, asset_id: UUID | str) -> None:
    """Let go of ``asset_id`` as a stack's primary asset, before the asset is deleted."""
    await conn.execute(RELEASE_PRIMARY, {"asset": asset_id})


async def leave_stack(conn: Conn, asset_id: UUID) -> None:
    await conn.execute(LEAVE_STACK, (asset_id,))
