"""Changing albums: create, update, delete, their assets (in bulk) and their members.

Every list of ids goes to PostgreSQL as one array: adding or removing 10,000 assets is one
statement, not 10,000.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]

CREATE = """
INSERT INTO album ("albumName", description, "albumThumbnailAssetId", "order")
VALUES (%s, %s, %s, %s) RETURNING id
"""
ADD_MEMBERS = """
INSERT INTO album_user ("albumId", "userId", role)
SELECT %s, u, r FROM unnest(%s::uuid[], %s::album_user_role_enum[]) AS t(u, r)
"""
ADD_ASSETS = """
INSERT INTO album_asset ("albumId", "assetId")
SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING
"""
ADD_PAIRS = """
INSERT INTO album_asset ("albumId", "assetId")
SELECT * FROM unnest(%s::uuid[], %s::uuid[]) ON CONFLICT DO NOTHING
"""
PRESENT = """
SELECT "assetId" FROM album_asset WHERE "albumId" = %s AND "assetId" = ANY(%s::uuid[])
"""
PRESENT_PAIRS = """
SELECT "albumId", "assetId" FROM album_asset
WHERE "albumId" = ANY(%s::uuid[]) AND "assetId" = ANY(%s::uuid[])
"""
REMOVE_ASSETS = """
DELETE FROM album_asset WHERE "albumId" = %s AND "assetId" = ANY(%s::uuid[])
"""
# Immich's update after new assets: updatedAt now, the cover kept or set to the first new one.
TOUCH = """
UPDATE album a SET "updatedAt" = now(),
       "albumThumbnailAssetId" = coalesce(a."albumThumbnailAssetId", t.cover)
FROM unnest(%s::uuid[], %s::uuid[]) AS t(album, cover)
WHERE a.id = t.album
"""
MEMBERS = """
SELECT "albumId", "userId", role::text AS role FROM album_user WHERE "albumId" = ANY(%s::uuid[])
"""
LIVE_USERS = """SELECT id FROM "user" WHERE id = ANY(%s::uuid[]) AND "deletedAt" IS NULL"""
SET_ROLE = """UPDATE album_user SET role = %s WHERE "albumId" = %s AND "userId" = %s"""
REMOVE_MEMBER = """DELETE FROM album_user WHERE "albumId" = %s AND "userId" = %s"""
DELETE = "DELETE FROM album WHERE id = %s"

# UpdateAlbumDto's fields and their columns
UPDATABLE = {
    "albumName": "albumName",
    "description": "description",
    "albumThumbnailAssetId": "albumThumbnailAssetId",
    "isActivityEnabled": "isActivityEnabled",
    "order": "order",
}


async def create(
    conn: Conn, *, name: str, description: str, cover: UUID | None, order: str,
    members: Sequence[tuple[UUID | str, str]], asset_ids: Sequence[UUID],
) -> UUID:
    """The album, its members (the owner among them) and its assets, in three statements."""
    cur = await conn.execute(CREATE, (name, description, cover, order))
    row = await cur.fetchone()
    assert row is not None
    album_id: UUID = row["id"]
    await conn.execute(ADD_MEMBERS, (album_id, [u for u, _ in members], [r for _, r in members]))
    if asset_ids:
        await conn.execute(ADD_ASSETS, (album_id, list(asset_ids)))
    return album_id


async def update(conn: Conn, album_id: UUID | str, changes: Mapping[str, Any]) -> None:
    """Set the given UpdateAlbumDto fields; ``updatedAt`` moves even when none is given."""
    sets: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(UPDATABLE[k]), sql.Literal(v)) for k, v in changes.items()
    ]
    sets.append(sql.SQL("id = id"))
    query = sql.SQL("UPDATE album SET {} WHERE id = {}").format(sql.SQL(", ").join(sets), sql.Literal(album_id))
    await conn.execute(query)


async def delete(conn: Conn, album_id: UUID | str) -> None:
    await conn.execute(DELETE, (album_id,))


async def present_assets(conn: Conn, album_id: UUID | str, asset_ids: Sequence[UUID]) -> set[UUID]:
    cur = await conn.execute(PRESENT, (album_id, list(asset_ids)))
    return {row["assetId"] for row in await cur.fetchall()}


async def present_pairs(
    conn: Conn, album_ids: Sequence[UUID], asset_ids: Sequence[UUID]
) -> set[tuple[UUID, UUID]]:
    cur = await conn.execute(PRESENT_PAIRS, (list(album_ids), list(asset_ids)))
    return {(row["albumId"], row["assetId"]) for row in await cur.fetchall()}


async def add_assets(conn: Conn, album_id: UUID | str, asset_ids: Sequence[UUID]) -> None:
    if asset_ids:
        await conn.execute(ADD_ASSETS, (album_id, list(asset_ids)))


async def add_pairs(conn: Conn, pairs: Sequence[tuple[UUID, UUID]]) -> None:
    if pairs:
        await conn.execute(ADD_PAIRS, ([a for a, _ in pairs], [b for _, b in pairs]))


async def remove_assets(conn: Conn, album_id: UUID | str, asset_ids: Sequence[UUID]) -> None:
    if asset_ids:
        await conn.execute(REMOVE_ASSETS, (album_id, list(asset_ids)))


async def touch(conn: Conn, covers: Mapping[UUID, UUID]) -> None:
    """Albums that received assets: ``updatedAt`` now, and a cover (the given one) if none."""
    if covers:
        await conn.execute(TOUCH, (list(covers), list(covers.values())))


async def members(conn: Conn, album_ids: Sequence[UUID | str]) -> dict[UUID, dict[UUID, str]]:
    """album id -> {user id: role}."""
    cur = await conn.execute(MEMBERS, (list(album_ids),))
    out: dict[UUID, dict[UUID, str]] = {}
    for row in await cur.fetchall():
        out.setdefault(row["albumId"], {})[row["userId"]] = row["role"]
    return out


async def live_users(conn: Conn, user_ids: Sequence[UUID]) -> set[UUID]:
    cur = await conn.execute(LIVE_USERS, (list(user_ids),))
    return {row["id"] for row in await cur.fetchall()}


async def add_members(conn: Conn, album_id: UUID | str, members: Sequence[tuple[UUID, str]]) -> None:
    if members:
        await conn.execute(ADD_MEMBERS, (album_id, [u for u, _ in members], [r for _, r in members]))


async def set_role(conn: Conn, album_id: UUID | str, user_id: UUID, role: str) -> None:
    await conn.execute(SET_ROLE, (role, album_id, user_id))


async def remove_member(conn: Conn, album_id: UUID | str, user_id: UUID) -> None:
    await conn.execute(REMOVE_MEMBER, (album_id, user_id))
