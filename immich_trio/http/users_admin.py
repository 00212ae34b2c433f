"""Tag "Users (admin)": creating, editing, soft-deleting and restoring users, and their details."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, value_or
from immich_trio.http.dto.generated import (
    AssetStatsResponseDto,
    SessionResponseDto,
    UserAdminCreateDto,
    UserAdminDeleteDto,
    UserAdminResponseDto,
    UserAdminUpdateDto,
    UserPreferencesResponseDto,
    UserPreferencesUpdateDto,
)
from immich_trio.http.dto.sessions import session_dto
from immich_trio.http.dto.users import user_admin_dto
from immich_trio.http.errors import BadRequest, Forbidden
from immich_trio.http.registry import operation
from immich_trio.http.users import EMAIL_IN_USE, get_preferences, hash_password, update_preferences
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import mail
from immich_trio.sql import sessions as sessions_q
from immich_trio.sql import users as q

USER_NOT_FOUND = "User not found"
LABEL_IN_USE = "Storage label already in use by another account"

# Characters a file name may not hold (the storage label becomes a folder name).
_UNSAFE = re.compile(r'[/?<>\\:*|"\x00-\x1f\x80-\x9f]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def sanitize_storage_label(label: str) -> str:
    """A label safe as a single folder name: dots dropped, unsafe characters removed."""
    text = _UNSAFE.sub("", label.replace(".", ""))
    if _RESERVED.match(text):
        return ""
    text = text.rstrip(". ")
    return text.encode()[:255].decode("utf-8", "ignore")


def _storage_label(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    return sanitize_storage_label(value) or None


async def _find_or_fail(ctx: Ctx, user_id: UUID | str, *, with_deleted: bool) -> dict[str, Any]:
    async with ctx.db() as conn:
        row = await q.get_user(conn, user_id, with_deleted=with_deleted)
    if row is None:
        raise BadRequest(USER_NOT_FOUND)
    return row


@operation("searchUsersAdmin")
async def search_users_admin(ctx: Ctx) -> list[UserAdminResponseDto]:
    async with ctx.db() as conn:
        rows = await q.list_users(
            conn, with_deleted=bool(ctx.query.get("withDeleted")), user_id=ctx.query.get("id")
        )
    return [user_admin_dto(row) for row in rows]


@operation("createUserAdmin")
async def create_user_admin(ctx: Ctx) -> UserAdminResponseDto:
    dto = await ctx.body(UserAdminCreateDto)
    values: dict[str, Any] = {
        "email": dto.email.lower(),
        "name": dto.name,
        "isAdmin": value_or(dto.is_admin, False),
    }
    optional = {
        "avatarColor": dto.avatar_color,
        "quotaSizeInBytes": dto.quota_size_in_bytes,
        "shouldChangePassword": dto.should_change_password,
    }
    values.update({k: v for k, v in optional.items() if v is not None and v is not OMIT})
    label = _storage_label(value_or(dto.storage_label, None))
    if label is not None:
        values["storageLabel"] = label
    if dto.password:
        values["password"] = await hash_password(dto.password)
    pin_code = value_or(dto.pin_code, None)
    if pin_code:
        values["pinCode"] = await hash_password(pin_code)
    async with ctx.db() as conn, conn.transaction():
        if await q.id_by_email(conn, values["email"]) is not None:
            raise BadRequest("Email is not available")
        if not values["isAdmin"] and not await q.admin_exists(conn):
            raise BadRequest("The first registered account must the administrator.")
        if label is not None and await q.id_by_storage_label(conn, label) is not None:
            raise BadRequest(LABEL_IN_USE)
        row = await q.create_user(conn, values)
        if value_or(dto.notify, False):  # Immich's welcome mail, with the password to change
            temp_password = dto.password if row["shouldChangePassword"] else None
            await mail.enqueue_signup(conn, row["id"], temp_password)
    return user_admin_dto(row)


@operation("getUserAdmin")
async def get_user_admin(ctx: Ctx) -> UserAdminResponseDto:
    return user_admin_dto(await _find_or_fail(ctx, ctx.path["id"], with_deleted=True))


@operation("updateUserAdmin")
async def update_user_admin(ctx: Ctx) -> UserAdminResponseDto:
    user_id: UUID = UUID(str(ctx.path["id"]))
    dto = await ctx.body(UserAdminUpdateDto)
    if dto.is_admin is not OMIT and dto.is_admin != ctx.user.is_admin and ctx.user.id == user_id:
        raise BadRequest("Admin status can only be changed by another admin")
    given = {
        "name": dto.name,
        "avatarColor": dto.avatar_color,
        "isAdmin": dto.is_admin,
        "shouldChangePassword": dto.should_change_password,
        "quotaSizeInBytes": dto.quota_size_in_bytes,
    }
    values: dict[str, Any] = {k: v for k, v in given.items() if v is not OMIT}
    email = value_or(dto.email, "")
    if email:
        values["email"] = email.lower()
    if dto.storage_label is not OMIT:
        values["storageLabel"] = _storage_label(dto.storage_label)
    password = value_or(dto.password, "")
    if password:
        values["password"] = await hash_password(password)
    if dto.pin_code is not OMIT:
        values["pinCode"] = await hash_password(dto.pin_code) if dto.pin_code else None
    async with ctx.db() as conn, conn.transaction():
        before = await q.get_user(conn, user_id)
        if before is None:
            raise BadRequest(USER_NOT_FOUND)
        if values.get("email"):
            holder = await q.id_by_email(conn, values["email"])
            if holder is not None and holder != user_id:
                raise BadRequest(EMAIL_IN_USE)
        if values.get("storageLabel"):
            holder = await q.id_by_storage_label(conn, values["storageLabel"])
            if holder is not None and holder != user_id:
                raise BadRequest(LABEL_IN_USE)
        await q.update_user(conn, user_id, values)
        if (
            values.get("quotaSizeInBytes")
            and values["quotaSizeInBytes"] != before["quotaSizeInBytes"]
        ):
            await q.sync_usage(conn, user_id)
        row = await q.get_user(conn, user_id, with_deleted=True)
    assert row is not None
    return user_admin_dto(row)


@operation("deleteUserAdmin")
async def delete_user_admin(ctx: Ctx) -> UserAdminResponseDto:
    """Soft delete: ``deleted`` (purged after the configured delay) or ``removing`` with force."""
    user_id = ctx.path["id"]
    force = value_or((await ctx.body(UserAdminDeleteDto)).force, False)
    now = ctx.runtime.now()
    async with ctx.db() as conn, conn.transaction():
        user = await q.get_user(conn, user_id)
        if user is None:
            raise BadRequest(USER_NOT_FOUND)
        if user["isAdmin"]:
            raise Forbidden("Cannot delete admin user")
        await q.soft_delete_albums(conn, user_id, now)
        status = "removing" if force else "deleted"
        row = await q.update_user(conn, user_id, {"status": status, "deletedAt": now})
        if force:
            await jobs_q.enqueue_job(conn, JobName.USER_DELETE, {"id": str(user_id), "force": True})
    assert row is not None
    return user_admin_dto(row)


@operation("restoreUserAdmin")
async def restore_user_admin(ctx: Ctx) -> UserAdminResponseDto:
    user_id = ctx.path["id"]
    async with ctx.db() as conn, conn.transaction():
        if await q.get_user(conn, user_id, with_deleted=True) is None:
            raise BadRequest(USER_NOT_FOUND)
        await q.restore_albums(conn, user_id)
        row = await q.update_user(conn, user_id, {"status": "active", "deletedAt": None})
    assert row is not None
    return user_admin_dto(row)


@operation("getUserPreferencesAdmin")
async def get_user_preferences_admin(ctx: Ctx) -> UserPreferencesResponseDto:
    user = await _find_or_fail(ctx, ctx.path["id"], with_deleted=True)
    return await get_preferences(ctx, user["id"])


@operation("updateUserPreferencesAdmin")
async def update_user_preferences_admin(ctx: Ctx) -> UserPreferencesResponseDto:
    user = await _find_or_fail(ctx, ctx.path["id"], with_deleted=True)
    return await update_preferences(ctx, user["id"], await ctx.body(UserPreferencesUpdateDto))


@operation("getUserSessionsAdmin")
async def get_user_sessions_admin(ctx: Ctx) -> list[SessionResponseDto]:
    async with ctx.db() as conn:
        rows = await sessions_q.sessions_of_user(conn, ctx.path["id"], ctx.runtime.now())
    return [session_dto(row) for row in rows]


@operation("getUserStatisticsAdmin")
async def get_user_statistics_admin(ctx: Ctx) -> AssetStatsResponseDto:
    async with ctx.db() as conn:
        stats = await q.asset_statistics(
            conn,
            ctx.path["id"],
            visibility=ctx.query.get("visibility"),
            is_favorite=ctx.query.get("isFavorite"),
            is_trashed=ctx.query.get("isTrashed"),
        )
    return AssetStatsResponseDto(**stats)
