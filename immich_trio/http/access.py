"""The one access decision of the HTTP layer: Immich's checkAccess / requireAccess.

Handlers name a permission and the ids a request touches; the answer for any id the caller
may not touch is Immich's ``400 Not found or no <permission> access``, the same whether the
id exists or not. The rules themselves are SQL predicates in ``sql/access``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from immich_trio.http.context import Auth, Ctx
from immich_trio.http.errors import Unauthorized, no_access
from immich_trio.sql.access import Principal, SharedLinkGrant, allowed_ids

ELEVATION_REQUIRED = "Elevated permission is required"


def _auth(who: Ctx | Auth) -> Auth:
    auth = who.auth if isinstance(who, Ctx) else who
    assert auth is not None, "authenticated route"
    return auth


def principal(who: Ctx | Auth) -> Principal:
    auth = _auth(who)
    link = auth.shared_link
    return Principal(
        user_id=auth.user.id,
        elevated=auth.elevated,
        shared_link=SharedLinkGrant.from_row(link) if link is not None else None,
    )


def shared_link_grant(who: Ctx | Auth) -> SharedLinkGrant | None:
    """The request's shared link and its flags, None for a user's own credentials."""
    link = _auth(who).shared_link
    return SharedLinkGrant.from_row(link) if link is not None else None


async def check_access(
    who: Ctx | Auth, conn: Any, permission: str, ids: Iterable[UUID]
) -> set[UUID]:
    """The ids among ``ids`` that the caller may touch with ``permission``."""
    return await allowed_ids(conn, principal(who), permission, ids)


async def require_access(
    who: Ctx | Auth, conn: Any, permission: str, ids: Iterable[UUID]
) -> None:
    """Every id must be allowed, else Immich's 400 (nothing said about which, or whether it exists)."""
    wanted = set(ids)
    if not wanted:
        return
    if await check_access(who, conn, permission, wanted) != wanted:
        raise no_access(permission)


def require_elevated_permission(who: Ctx | Auth) -> None:
    if not _auth(who).elevated:
        raise Unauthorized(ELEVATION_REQUIRED)


def require_upload_access(who: Ctx | Auth) -> Auth:
    """Immich's requireUploadAccess: a shared link uploads only with ``allowUpload``."""
    auth = _auth(who)
    if auth.shared_link is not None and not auth.shared_link.get("allowUpload"):
        raise Unauthorized()
    return auth
