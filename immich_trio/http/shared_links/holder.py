"""Shared links, the holder's side: ``GET /shared-links/me`` and ``POST /shared-links/login``.

A password link shows itself only to a holder who proved the password: Immich's cookie
``immich_shared_link_token`` carries, comma-joined, one token per unlocked link
(base64 of sha256("<linkId>-<password>")); ``?password=`` is accepted as well. These two routes
are the only ones a password link reaches without the cookie; every other route answers 401
``Password required`` (``credentials.check_route``; stricter than v3.1, see there).
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from typing import Any

from immich_trio.http.authentication import is_https
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.credentials import SHARED_LINK_TOKEN_COOKIE as TOKEN_COOKIE
from immich_trio.http.credentials import link_token, link_tokens, parse_cookies
from immich_trio.http.dto.generated import SharedLinkLoginDto, SharedLinkResponseDto
from immich_trio.http.dto.shared_links import holder_view
from immich_trio.http.errors import BadRequest, Forbidden, Unauthorized
from immich_trio.http.registry import operation
from immich_trio.http.shared_links.manage import find_link

TOKEN_MAX_AGE = timedelta(days=1)


def _tokens(ctx: Ctx) -> list[str]:
    return link_tokens(parse_cookies(ctx.request.headers.get("cookie")))


async def _my_link(ctx: Ctx, conn: Any) -> dict[str, Any]:
    auth = ctx.auth
    if auth is None or auth.shared_link is None:
        raise Forbidden()
    return await find_link(conn, ctx.user.id, auth.shared_link["id"])


@operation("getMySharedLink")
async def get_my_shared_link(ctx: Ctx) -> SharedLinkResponseDto | dict[str, Any]:
    async with ctx.db() as conn:
        row = await _my_link(ctx, conn)
    password = row["password"]
    if password:
        given = ctx.request.args.get("password")
        if given != password and link_token(row["id"], password) not in _tokens(ctx):
            raise Unauthorized("Password required")
    return holder_view(row)


@operation("sharedLinkLogin")
async def shared_link_login(ctx: Ctx) -> Reply:
    dto = await ctx.body(SharedLinkLoginDto)
    async with ctx.db() as conn:
        row = await _my_link(ctx, conn)
    password = row["password"]
    if not password:
        raise BadRequest("Shared link is not password protected")
    if password != dto.password:
        raise Unauthorized("Invalid password")
    token = link_token(row["id"], password)
    tokens = [t for t in _tokens(ctx) if t != token] + [token]
    expires = format_datetime(ctx.runtime.now() + TOKEN_MAX_AGE, usegmt=True)
    secure = "; Secure" if is_https(ctx) else ""
    cookie = (
        f"{TOKEN_COOKIE}={','.join(tokens)}; Max-Age={int(TOKEN_MAX_AGE.total_seconds())}; Path=/;"
        f" Expires={expires}; HttpOnly{secure}; SameSite=Lax"
    )
    return Reply(body=holder_view(row), status=201, cookies=(cookie,))
