"""Tag "Users": the caller's own account, preferences, license, onboarding, and profile images."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import trio
from quart import Response

from immich_trio import crypto, license_keys, sysconfig
from immich_trio.http import media_types, multipart
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, to_wire, value_or
from immich_trio.http.dto.generated import (
    CreateProfileImageResponseDto,
    OnboardingDto,
    OnboardingResponseDto,
    UserAdminResponseDto,
    UserLicense,
    UserPreferencesResponseDto,
    UserPreferencesUpdateDto,
    UserResponseDto,
    UserUpdateMeDto,
)
from immich_trio.http.dto.users import (
    merge_preferences,
    partial_preferences,
    preferences_dto,
    user_admin_dto,
    user_dto,
)
from immich_trio.http.errors import BadRequest, NotFound
from immich_trio.http.license_activation import LICENSE, activation, stored_license
from immich_trio.http.registry import operation
from immich_trio.sql import users as q
from immich_trio.storage import files, layout

EMAIL_IN_USE = "Email already in use by another account"
PREFERENCES = "preferences"
ONBOARDING = "onboarding"


async def hash_password(password: str) -> str:
    return await trio.to_thread.run_sync(crypto.hash_password, password)


async def load_user(
    ctx: Ctx, user_id: UUID | str, *, with_deleted: bool = False
) -> dict[str, Any] | None:
    async with ctx.db() as conn:
        return await q.get_user(conn, user_id, with_deleted=with_deleted)


async def update_preferences(
    ctx: Ctx, user_id: UUID | str, update: UserPreferencesUpdateDto
) -> UserPreferencesResponseDto:
    """Merge an update into the stored partial and answer the result.

    ``avatar.color`` is not a preference of its own: it sets the user's avatar colour.
    """
    avatar = value_or(update.avatar, None)
    color = value_or(avatar.color, None) if avatar is not None else None
    async with ctx.db() as conn, conn.transaction():
        stored = await q.get_metadata(conn, user_id, PREFERENCES)
        # merged on the wire form: the sections and leaves the update names, nothing else
        merged = merge_preferences(stored if isinstance(stored, dict) else None, to_wire(update))
        partial = partial_preferences(merged)
        await q.set_metadata(conn, user_id, PREFERENCES, partial)
        if color:
            await q.update_user(conn, user_id, {"avatarColor": color})
    return preferences_dto(partial)


async def get_preferences(ctx: Ctx, user_id: UUID | str) -> UserPreferencesResponseDto:
    async with ctx.db() as conn:
        stored = await q.get_metadata(conn, user_id, PREFERENCES)
    return preferences_dto(stored if isinstance(stored, dict) else None)


@operation("getMyUser")
async def get_my_user(ctx: Ctx) -> UserAdminResponseDto:
    # The credential look-up read the row already (one round trip per request).
    row = ctx.auth.user_row if ctx.auth is not None and ctx.auth.user_row is not None else None
    if row is None:
        row = await load_user(ctx, ctx.user.id)
    if row is None:
        raise BadRequest("User not found")
    return user_admin_dto(row)


@operation("updateMyUser")
async def update_my_user(ctx: Ctx) -> UserAdminResponseDto:
    dto = await ctx.body(UserUpdateMeDto)
    values: dict[str, Any] = {}
    if dto.email is not OMIT:
        values["email"] = dto.email.lower()
    if dto.name is not OMIT:
        values["name"] = dto.name
    if dto.avatar_color is not OMIT:
        values["avatarColor"] = dto.avatar_color
    password = value_or(dto.password, "")
    if password:
        values["password"] = await hash_password(password)
        values["shouldChangePassword"] = False
    async with ctx.db() as conn, conn.transaction():
        if values.get("email"):
            holder = await q.id_by_email(conn, values["email"])
            if holder is not None and holder != ctx.user.id:
                raise BadRequest(EMAIL_IN_USE)
        row = await q.update_user(conn, ctx.user.id, values)
    if row is None:
        raise BadRequest("User not found")
    return user_admin_dto(row)


@operation("getMyPreferences")
async def get_my_preferences(ctx: Ctx) -> UserPreferencesResponseDto:
    return await get_preferences(ctx, ctx.user.id)


@operation("updateMyPreferences")
async def update_my_preferences(ctx: Ctx) -> UserPreferencesResponseDto:
    return await update_preferences(ctx, ctx.user.id, await ctx.body(UserPreferencesUpdateDto))


@operation("getUserLicense")
async def get_user_license(ctx: Ctx) -> UserLicense:
    async with ctx.db() as conn:
        return stored_license(await q.get_metadata(conn, ctx.user.id, LICENSE))


@operation("setUserLicense")
async def set_user_license(ctx: Ctx) -> UserLicense:
    value, answer = await activation(ctx, license_keys.user_license_valid)
    async with ctx.db() as conn:
        await q.set_metadata(conn, ctx.user.id, LICENSE, value)
    return answer


@operation("deleteUserLicense")
async def delete_user_license(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        await q.delete_metadata(conn, ctx.user.id, LICENSE)


@operation("getUserOnboarding")
async def get_user_onboarding(ctx: Ctx) -> OnboardingResponseDto:
    async with ctx.db() as conn:
        value = await q.get_metadata(conn, ctx.user.id, ONBOARDING)
    onboarded = bool(value.get("isOnboarded")) if isinstance(value, dict) else False
    return OnboardingResponseDto(is_onboarded=onboarded)


@operation("setUserOnboarding")
async def set_user_onboarding(ctx: Ctx) -> OnboardingResponseDto:
    dto = await ctx.body(OnboardingDto)
    async with ctx.db() as conn:
        await q.set_metadata(conn, ctx.user.id, ONBOARDING, {"isOnboarded": dto.is_onboarded})
    return OnboardingResponseDto(is_onboarded=dto.is_onboarded)


@operation("deleteUserOnboarding")
async def delete_user_onboarding(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        await q.delete_metadata(conn, ctx.user.id, ONBOARDING)


@operation("searchUsers")
async def search_users(ctx: Ctx) -> list[UserResponseDto]:
    async with ctx.db() as conn:
        config = await sysconfig.load(conn)
        if ctx.user.is_admin or config["server"]["publicUsers"]:
            rows = await q.list_users(conn)
        else:
            own = await q.get_user(conn, ctx.user.id)
            rows = [own] if own else []
    return [user_dto(row) for row in rows]


@operation("getUser")
async def get_user(ctx: Ctx) -> UserResponseDto:
    row = await load_user(ctx, ctx.path["id"])
    if row is None:
        raise BadRequest("User not found")
    return user_dto(row)


# --- profile images ---------------------------------------------------------------------


async def _remove_file(media: Path, path: str) -> None:
    """Delete a file we own (inside the media root); a missing file is fine."""
    if not path or not layout.is_within(media, Path(path)):
        return
    await trio.Path(path).unlink(missing_ok=True)


def _profile_gate(media: Path, user_id: UUID) -> multipart.FileGate:
    """Keep the ``file`` part (a staging file under ``upload/.tmp``, cleaned by recovery
    after a crash); refuse a file type that cannot be a profile image."""

    def gate(name: str, filename: str, fields: Mapping[str, str]) -> multipart.FileTarget | None:
        if name != "file":
            return None
        if not media_types.has_flag(filename, "profile"):
            raise BadRequest(f"Unsupported file type {filename}")
        return multipart.FileTarget(path=files.staging_path(media, uuid4()))

    return gate


async def _receive_profile_image(ctx: Ctx) -> Path:
    """Stream the multipart ``file`` part to disk and move it, fsynced, into
    ``<media>/profile/<userId>/``; nothing is left behind if anything fails."""
    media = ctx.runtime.settings.media_location
    form = await multipart.receive_form(
        multipart.body_source(ctx.request),
        ctx.request.headers.get("Content-Type"),
        _profile_gate(media, ctx.user.id),
    )
    received = form.files.get("file")
    try:
        if received is None:
            raise BadRequest("File is required")
        if received.staged.size == 0:
            raise BadRequest("File is empty")
        await received.staged.finish()
        received.staged.close()
        target = layout.new_profile_image_path(
            media, ctx.user.id, media_types.extension(received.filename)
        )
        await trio.to_thread.run_sync(files.move_into_place, received.staged.path, target)
    except BaseException:
        form.discard()
        raise
    return target


@operation("createProfileImage")
async def create_profile_image(ctx: Ctx) -> CreateProfileImageResponseDto:
    path = await _receive_profile_image(ctx)
    now = ctx.runtime.now()
    try:
        async with ctx.db() as conn, conn.transaction():
            before = await q.get_user(conn, ctx.user.id)
            if before is None:
                raise BadRequest("User not found")
            await q.update_user(
                conn, ctx.user.id, {"profileImagePath": str(path), "profileChangedAt": now}
            )
    except BaseException:
        with trio.move_on_after(5, shield=True):
            await trio.Path(path).unlink(missing_ok=True)
        raise
    await _remove_file(ctx.runtime.settings.media_location, before["profileImagePath"])
    return CreateProfileImageResponseDto(
        user_id=ctx.user.id, profile_image_path=str(path), profile_changed_at=now
    )


@operation("deleteProfileImage")
async def delete_profile_image(ctx: Ctx) -> None:
    async with ctx.db() as conn, conn.transaction():
        row = await q.get_user(conn, ctx.user.id)
        if row is None:
            raise BadRequest("User not found")
        if not row["profileImagePath"]:
            raise BadRequest("Can't delete a missing profile Image")
        await q.update_user(
            conn, ctx.user.id, {"profileImagePath": "", "profileChangedAt": ctx.runtime.now()}
        )
    await _remove_file(ctx.runtime.settings.media_location, row["profileImagePath"])


def _weak_etag(size: int, mtime: float) -> str:
    return f'W/"{size:x}-{int(mtime * 1000):x}"'


@operation("getProfileImage")
async def get_profile_image(ctx: Ctx) -> Response:
    # File endpoints answer every failure with a bare 404 (behaviour.md §2).
    row = await load_user(ctx, ctx.path["id"])
    if row is None or not row["profileImagePath"]:
        raise NotFound()
    path = trio.Path(row["profileImagePath"])
    try:
        stat = await path.stat()
        data = await path.read_bytes()
    except OSError:
        raise NotFound() from None
    etag = _weak_etag(stat.st_size, stat.st_mtime)
    headers = {
        "Cache-Control": "public, max-age=0",
        "Accept-Ranges": "bytes",
        "Last-Modified": format_datetime(
            datetime.fromtimestamp(int(stat.st_mtime), tz=UTC), usegmt=True
        ),
        "ETag": etag,
    }
    if etag in ctx.request.headers.get("If-None-Match", ""):
        return Response(b"", status=304, headers=headers)
    return Response(
        data, status=200, content_type=media_types.mime_type(str(path)), headers=headers
    )
