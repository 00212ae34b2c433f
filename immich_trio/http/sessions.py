"""The Sessions tag: list, create child (cast) sessions, delete, lock, update sync-reset flag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from immich_trio import crypto
from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import _Omit, value_or
from immich_trio.http.dto.generated import (
    SessionCreateDto,
    SessionCreateResponseDto,
    SessionResponseDto,
    SessionUpdateDto,
)
from immich_trio.http.dto.sessions import session_create_dto, session_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import sessions as q

NEEDS_SESSION = "This endpoint can only be used with a session token"


async def _require_access(ctx: Ctx, conn: Any, permission: str) -> UUID:
    """The path's session id once the caller passed ``permission`` on it."""
    session_id = UUID(ctx.path["id"])
    await require_access(ctx, conn, permission, [session_id])
    return session_id


def _current_id(ctx: Ctx) -> UUID | None:
    assert ctx.auth is not None
    return ctx.auth.session.id if ctx.auth.session else None


@operation("getSessions")
async def get_sessions(ctx: Ctx) -> list[SessionResponseDto]:
    async with ctx.db() as conn:
        rows = await q.sessions_of_user(conn, ctx.user.id, ctx.runtime.now())
    current = _current_id(ctx)
    return [session_dto(row, current) for row in rows]


@operation("createSession")
async def create_session(ctx: Ctx) -> SessionCreateResponseDto:
    dto = await ctx.body(SessionCreateDto)
    parent = _current_id(ctx)
    if parent is None:
        raise BadRequest(NEEDS_SESSION)
    token = crypto.new_token()
    duration = value_or(dto.duration, 0)
    expires = ctx.runtime.now() + timedelta(seconds=duration) if duration else None
    async with ctx.db() as conn:
        row = await q.create_session(
            conn,
            token_hash=crypto.hash_token(token),
            user_id=ctx.user.id,
            parent_id=parent,
            expires_at=expires,
            device_type=value_or(dto.device_type, ""),
            device_os=value_or(dto.device_os, ""),
        )
    return session_create_dto(row, token)


@operation("deleteAllSessions")
async def delete_all_sessions(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        await q.delete_other_sessions(conn, ctx.user.id, _current_id(ctx))


@operation("deleteSession")
async def delete_session(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        session_id = await _require_access(ctx, conn, "authDevice.delete")
        await q.delete_session(conn, session_id)


@operation("lockSession")
async def lock_session(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        session_id = await _require_access(ctx, conn, "session.lock")
        await q.set_pin_expires(conn, session_id, None)


@operation("updateSession")
async def update_session(ctx: Ctx) -> SessionResponseDto:
    dto = await ctx.body(SessionUpdateDto)
    async with ctx.db() as conn:
        session_id = await _require_access(ctx, conn, "session.update")
        if isinstance(dto.is_pending_sync_reset, _Omit):
            raise BadRequest("No fields to update")
        row = await q.set_pending_sync_reset(conn, session_id, dto.is_pending_sync_reset)
    return session_dto(row)
