"""Albums tag, members: add users, change a member's role, remove a member (or leave)."""

from __future__ import annotations

from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.albums.edit import check_new_members, unique_members
from immich_trio.http.albums.read import load_album
from immich_trio.http.context import Ctx
from immich_trio.http.dto.albums import album_dto
from immich_trio.http.dto.generated import AddUsersDto, AlbumResponseDto, UpdateAlbumUserDto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import album_notices as notices
from immich_trio.sql.albums import write as w

NOT_SHARED = "Album not shared with user"
LAST_OWNER = "Cannot remove the last album owner"
USER_IS_OWNER = "User is owner"


def _member_id(raw: str, me: UUID) -> UUID | None:
    """The path's ``userId``: ``me`` (deprecated, still honoured) or a user id."""
    if raw == "me":
        return me
    try:
        return UUID(raw)
    except ValueError:
        return None


@operation("addUsersToAlbum")
async def add_users_to_album(ctx: Ctx) -> AlbumResponseDto:
    album_id = UUID(ctx.path["id"])
    dto = await ctx.body(AddUsersDto)
    requested = [(u.user_id, str(u.role) if isinstance(u.role, str) else "editor") for u in dto.album_users]
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "album.share", [album_id])
        await load_album(conn, ctx.user.id, album_id)
        if any(role == "owner" for _, role in requested):
            raise BadRequest("Cannot add another owner")
        current = set((await w.members(conn, [album_id])).get(album_id, {}))
        new = unique_members(requested, skip=current)
        await check_new_members(conn, new)
        await w.add_members(conn, album_id, new)
        await notices.enqueue_invites(conn, album_id, [user_id for user_id, _ in new])
        row = await load_album(conn, ctx.user.id, album_id)
    return album_dto(row, figures="assets")


@operation("updateAlbumUser")
async def update_album_user(ctx: Ctx) -> None:
    album_id = UUID(ctx.path["id"])
    dto = await ctx.body(UpdateAlbumUserDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "album.share", [album_id])
        await load_album(conn, ctx.user.id, album_id)
        user_id = _member_id(ctx.path["userId"], ctx.user.id)
        roles = (await w.members(conn, [album_id])).get(album_id, {})
        if user_id is not None and roles.get(user_id) == "owner":
            raise BadRequest(USER_IS_OWNER)
        if dto.role == "owner":
            raise BadRequest("Cannot add another owner")
        if user_id is None or user_id not in roles:
            raise BadRequest(NOT_SHARED)
        await w.set_role(conn, album_id, user_id, dto.role)


@operation("removeUserFromAlbum")
async def remove_user_from_album(ctx: Ctx) -> None:
    album_id = UUID(ctx.path["id"])
    me = ctx.user.id
    async with ctx.db() as conn, conn.transaction():
        await load_album(conn, me, album_id)
        user_id = _member_id(ctx.path["userId"], me)
        roles = (await w.members(conn, [album_id])).get(album_id, {})
        if user_id is None or user_id not in roles:
            raise BadRequest(NOT_SHARED)
        if roles[user_id] == "owner":
            raise BadRequest(LAST_OWNER)
        if user_id != me:
            await require_access(ctx, conn, "album.share", [album_id])
        await w.remove_member(conn, album_id, user_id)
