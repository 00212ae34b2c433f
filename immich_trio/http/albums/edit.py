"""Albums tag, editing: create (with assets and members), update, delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import check_access, require_access
from immich_trio.http.albums.read import load_album
from immich_trio.http.context import Ctx
from immich_trio.http.dto import value_or
from immich_trio.http.dto.albums import album_dto
from immich_trio.http.dto.generated import AlbumResponseDto, CreateAlbumDto
from immich_trio.http.dto.users import merge_preferences
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import album_notices as notices
from immich_trio.sql import users as users_q
from immich_trio.sql.albums import write as w

INVALID_USER = "Invalid user"
ANOTHER_OWNER = "Cannot add another owner"
INVALID_COVER = "Invalid album thumbnail"


async def check_new_members(conn: Any, wanted: list[tuple[UUID, str]]) -> None:
    """Immich's checks before members join: no second owner, every user exists."""
    if any(role == "owner" for _, role in wanted):
        raise BadRequest(ANOTHER_OWNER)
    ids = [user_id for user_id, _ in wanted]
    if ids and await w.live_users(conn, ids) != set(ids):
        raise BadRequest(INVALID_USER)


def unique_members(pairs: list[tuple[UUID, str]], *, skip: set[UUID]) -> list[tuple[UUID, str]]:
    """The first entry of each user, leaving out ``skip`` (the caller, existing members)."""
    out: list[tuple[UUID, str]] = []
    seen = set(skip)
    for user_id, role in pairs:
        if user_id not in seen:
            seen.add(user_id)
            out.append((user_id, role))
    return out


@operation("createAlbum")
async def create_album(ctx: Ctx) -> AlbumResponseDto:
    dto = await ctx.body(CreateAlbumDto)
    me = ctx.user.id
    requested = [(u.user_id, str(u.role)) for u in value_or(dto.album_users, [])]
    members = unique_members(requested, skip={me})
    asset_ids = list(dict.fromkeys(value_or(dto.asset_ids, [])))
    async with ctx.db() as conn, conn.transaction():
        await check_new_members(conn, members)
        allowed = await check_access(ctx, conn, "asset.share", asset_ids)
        assets = [a for a in asset_ids if a in allowed]
        prefs = merge_preferences(await users_q.get_metadata(conn, me, "preferences"))
        album_id = await w.create(
            conn, name=dto.album_name, description=value_or(dto.description, ""),
            cover=assets[0] if assets else None, order=prefs["albums"]["defaultAssetOrder"],
            members=[(me, "owner"), *members], asset_ids=assets,
        )
        await notices.enqueue_invites(conn, album_id, [user_id for user_id, _ in members])
        row = await load_album(conn, me, album_id)
    return album_dto(row, figures="assets")


@operation("updateAlbumInfo")
async def update_album_info(ctx: Ctx) -> AlbumResponseDto:
    album_id = UUID(ctx.path["id"])
    body = await ctx.json()
    changes = {k: v for k, v in body.items() if k in w.UPDATABLE and v is not None}
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "album.update", [album_id])
        await load_album(conn, ctx.user.id, album_id)
        cover = changes.get("albumThumbnailAssetId")
        if cover and not await w.present_assets(conn, album_id, [UUID(cover)]):
            raise BadRequest(INVALID_COVER)
        await w.update(conn, album_id, changes)
        row = await load_album(conn, ctx.user.id, album_id)
    return album_dto(row, figures="assets")


@operation("deleteAlbum")
async def delete_album(ctx: Ctx) -> None:
    album_id = UUID(ctx.path["id"])
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "album.delete", [album_id])
        await w.delete(conn, album_id)

