"""Who may touch what: elevation (PIN-unlocked sessions) and the owner checks of assets.

The seed of the one access module: handlers call these instead of writing their own checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from immich_trio.http.context import Ctx
from immich_trio.http.errors import Unauthorized, no_access
from immich_trio.sql import access as q

ELEVATION_REQUIRED = "Elevated permission is required"


def has_elevated_permission(ctx: Ctx) -> bool:
    """A session unlocked with the PIN code within its keep-alive window."""
    session = ctx.auth.session if ctx.auth else None
    return bool(
        session is not None
        and session.pin_expires_at is not None
        and session.pin_expires_at > ctx.runtime.now()
    )


def require_elevated_permission(ctx: Ctx) -> None:
    if not has_elevated_permission(ctx):
        raise Unauthorized(ELEVATION_REQUIRED)


async def require_owned(ctx: Ctx, conn: Any, ids: Iterable[UUID], permission: str) -> None:
    """Immich's owner access check: every id must be the caller's (locked ones need a PIN)."""
    assert ctx.auth is not None
    if ctx.auth.shared_link is not None:
        raise no_access(permission)
    wanted = set(ids)
    if not wanted:
        return
    owned = await q.owned_ids(conn, wanted, ctx.user.id, elevated=has_elevated_permission(ctx))
    if owned != wanted:
        raise no_access(permission)


async def can_view_asset(ctx: Ctx, conn: Any, asset_id: UUID) -> bool:
    """Owner (locked ones need a PIN) or partner access to one asset."""
    return await q.can_view(conn, asset_id, ctx.user.id, elevated=has_elevated_permission(ctx))
