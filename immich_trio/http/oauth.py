"""OAuth (tag "Authentication") and "Authentication (admin)": the OIDC login with state and PKCE,
link/unlink, the mobile redirect, back-channel logout, and the admin's unlink-all.

As Immich v3.1's auth service and OAuth controller: the state and code verifier travel in
cookies (or in the body, for the mobile app); a profile is matched by subject, then by e-mail
(linking the account), else auto-registered with the role, storage-label and quota claims;
the login answer and its cookies are password login's, with ``immich_auth_type=oauth``.
Everything a login writes (a link, a new user, the session) is one transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from quart import Response

from immich_trio import crypto, oidc, sysconfig
from immich_trio.http import validation
from immich_trio.http.authentication import (
    cleared_cookie,
    cookie,
    is_https,
    login_cookies,
)
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.credentials import device_from_user_agent
from immich_trio.http.dto import OMIT, value_or
from immich_trio.http.dto.authentication import login_response_dto
from immich_trio.http.dto.generated import (
    OAuthAuthorizeResponseDto,
    OAuthCallbackDto,
    OAuthConfigDto,
    UserAdminResponseDto,
)
from immich_trio.http.dto.users import user_admin_dto
from immich_trio.http.errors import BadRequest, HttpError, ValidationFailed, failed_message
from immich_trio.http.oauth_profile import new_user_values, sync_picture
from immich_trio.http.registry import operation
from immich_trio.sql import authentication as auth_q
from immich_trio.sql import events
from immich_trio.sql import oauth as q
from immich_trio.sql import users as users_q
from immich_trio.sql.errors import DatabaseUnavailable

log = logging.getLogger("immich_trio.http.oauth")

STATE_COOKIE = "immich_oauth_state"
CODE_VERIFIER_COOKIE = "immich_oauth_code_verifier"
MOBILE_REDIRECT = "app.immich:///oauth-callback"
_MOBILE_CALLBACK = re.compile(r"app\.immich:/+oauth-callback")
GIB = 1024**3
# A profile picture bigger than this is not a profile picture.
PICTURE_LIMIT = 20 * 1024 * 1024

NOT_ENABLED = "OAuth is not enabled"
STATE_MISSING = "OAuth state is missing"
VERIFIER_MISSING = "OAuth code verifier is missing"
# One answer for "linked to someone else" and "unknown with auto-register off": the reason is
# logged, not told (Immich v3.1).
AUTH_FAILED = "OAuth authentication failed"
NO_EMAIL = "OAuth profile does not have an email address"
ALREADY_LINKED = "This OAuth account has already been linked to another user."
BACKCHANNEL_DISABLED = "Received backchannel logout request but OAuth is not enabled"
BACKCHANNEL_INVALID = "Error backchannel logout: token validation failed"
BACKCHANNEL_NO_SUBJECT = "Invalid logout token: it must contain either a sub or a sid claim"


# --- shared steps -------------------------------------------------------------------------------


async def _oauth_config(ctx: Ctx) -> dict[str, Any]:
    async with ctx.db() as conn:
        config = await sysconfig.load(conn)
    return dict(config["oauth"])


async def _provider(oauth: Mapping[str, Any]) -> oidc.Provider:
    try:
        return await oidc.discover(oauth)
    except oidc.DiscoveryError as exc:
        log.error("Error in OAuth discovery: %s", exc)
        raise HttpError(f"Error in OAuth discovery: {exc}") from None


def resolve_redirect_uri(oauth: Mapping[str, Any], url: str) -> str:
    """The mobile app's ``app.immich:///oauth-callback`` becomes the configured override."""
    override = str(oauth.get("mobileRedirectUri") or "")
    if oauth.get("mobileOverrideEnabled") and override:
        return _MOBILE_CALLBACK.sub(lambda _: override, url, count=1)
    return url


def _cookie_value(ctx: Ctx, name: str) -> str | None:
    raw = ctx.request.cookies.get(name)
    return unquote(raw) if raw else None


def _state_and_verifier(ctx: Ctx, dto: OAuthCallbackDto) -> tuple[str, str]:
    """The body's state and verifier (the mobile app), else the cookies set by authorize."""
    state = value_or(dto.state, None)
    if state is None:
        state = _cookie_value(ctx, STATE_COOKIE)
    if not state:
        raise BadRequest(STATE_MISSING)
    verifier = value_or(dto.code_verifier, None)
    if verifier is None:
        verifier = _cookie_value(ctx, CODE_VERIFIER_COOKIE)
    if not verifier:
        raise BadRequest(VERIFIER_MISSING)
    return state, verifier


async def _exchange(
    oauth: Mapping[str, Any], url: str, state: str, verifier: str, failure: str
) -> oidc.LoginProfile:
    provider = await _provider(oauth)
    try:
        return await oidc.finish_login(
            provider, oauth, callback_url=url, expected_state=state, code_verifier=verifier
        )
    except oidc.OidcError as exc:
        if "unexpected JWT alg" in str(exc):
            log.warning(
                "Algorithm mismatch. Make sure the signing algorithm is set correctly in the"
                " OAuth settings. Or, that you have specified a signing key in your OAuth provider."
            )
        log.error("OAuth login failed: %s", exc)
        raise HttpError(failed_message(failure)) from None


# --- operations ---------------------------------------------------------------------------------


@operation("startOAuth")
async def start_oauth(ctx: Ctx) -> Reply:
    dto = await ctx.body(OAuthConfigDto)
    oauth = await _oauth_config(ctx)
    if not oauth["enabled"]:
        raise BadRequest(NOT_ENABLED)
    provider = await _provider(oauth)
    state = dto.state if dto.state is not OMIT else oidc.new_state()
    challenge = value_or(dto.code_challenge, "")
    verifier = None if challenge else oidc.new_code_verifier()
    if verifier is not None:
        challenge = oidc.code_challenge(verifier)
    url = oidc.authorization_url(
        provider,
        oauth,
        redirect_uri=resolve_redirect_uri(oauth, dto.redirect_uri),
        state=state,
        challenge=challenge,
    )
    secure, now = is_https(ctx), ctx.runtime.now()
    cookies = [cookie(STATE_COOKIE, _encode(state), http_only=True, secure=secure, now=now)]
    if verifier is not None:  # a client that sent its own challenge keeps its own verifier
        cookies.append(
            cookie(CODE_VERIFIER_COOKIE, verifier, http_only=True, secure=secure, now=now)
        )
    return Reply(body=OAuthAuthorizeResponseDto(url=url), cookies=tuple(cookies))


def _encode(value: str) -> str:
    """Express writes cookie values with ``encodeURIComponent``."""
    return quote(value, safe="-_.!~*'()")


@operation("finishOAuth")
async def finish_oauth(ctx: Ctx) -> Reply:
    dto = await ctx.body(OAuthCallbackDto)
    # The state and verifier are spent whatever happens next.
    spent = (cleared_cookie(STATE_COOKIE), cleared_cookie(CODE_VERIFIER_COOKIE))
    try:
        body, token = await _log_in(ctx, dto)
    except HttpError as exc:
        return Reply(body=exc.body(), status=exc.status, cookies=spent)
    except DatabaseUnavailable:
        raise
    except Exception:
        log.exception("finishOAuth failed")
        return Reply(body={"message": failed_message("finish_oauth")}, status=500, cookies=spent)
    cookies = login_cookies(token, secure=is_https(ctx), now=ctx.runtime.now(), auth_type="oauth")
    return Reply(body=body, cookies=cookies + spent)


async def _log_in(ctx: Ctx, dto: OAuthCallbackDto) -> tuple[Any, str]:
    oauth = await _oauth_config(ctx)
    if not oauth["enabled"]:
        raise BadRequest(NOT_ENABLED)
    state, verifier = _state_and_verifier(ctx, dto)
    url = resolve_redirect_uri(oauth, dto.url)
    login = await _exchange(oauth, url, state, verifier, "finish_oauth")
    profile = login.profile
    raw_email = profile.get("email")
    email = raw_email.strip().lower() if isinstance(raw_email, str) and raw_email.strip() else None
    subject = str(profile["sub"])
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    app_version, device_type, device_os = device_from_user_agent(
        headers.get("user-agent") or "", headers
    )
    token = crypto.new_token()
    async with ctx.db() as conn, conn.transaction():
        user = await q.login_user_by_oauth_id(conn, subject)
        if user is None and email:
            by_email = await q.login_user_by_email(conn, email)
            if by_email is not None:
                if by_email["oauthId"]:
                    log.debug("OAuth login conflict: email already linked to different account")
                    raise BadRequest(AUTH_FAILED)
                await q.set_oauth_id(conn, by_email["id"], subject)
                user = by_email
        if user is None:
            if not oauth["autoRegister"]:
                log.warning(
                    "Unable to register %s/%s. User does not exist and auto registering is"
                    " disabled. To enable set OAuth Auto Register to true in admin settings.",
                    subject,
                    email or "(no email)",
                )
                raise BadRequest(AUTH_FAILED)
            if not email:
                raise BadRequest(NO_EMAIL)
            user = await _register(conn, new_user_values(profile, email, oauth))
        await q.create_oauth_session(
            conn,
            token_hash=crypto.hash_token(token),
            user_id=user["id"],
            device_type=device_type,
            device_os=device_os,
            app_version=app_version,
            oauth_sid=login.sid,
            oauth_bearer_token=login.id_token,
        )
    picture = profile.get("picture")
    if not user["profileImagePath"] and isinstance(picture, str) and picture:
        await sync_picture(ctx, oauth, user["id"], picture)
    return login_response_dto(user, token), token


async def _register(conn: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Immich's createUser: an admin before anyone else. The e-mail is free among live users
    (the caller looked); a soft-deleted holder fails on the unique index, as in Immich (500)."""
    log.info("Registering new user: %s/%s", values["oauthId"], values["email"])
    if not values["isAdmin"] and not await users_q.admin_exists(conn):
        raise BadRequest("The first registered account must the administrator.")
    user_id = await q.create_oauth_user(conn, values)
    row = await q.login_user_by_id(conn, user_id)
    assert row is not None
    return row


@operation("linkOAuthAccount")
async def link_oauth_account(ctx: Ctx) -> UserAdminResponseDto:
    dto = await ctx.body(OAuthCallbackDto)
    assert ctx.auth is not None
    state, verifier = _state_and_verifier(ctx, dto)
    oauth = await _oauth_config(ctx)
    login = await _exchange(oauth, dto.url, state, verifier, "link_oauth_account")
    subject = str(login.profile["sub"])
    session = ctx.auth.session
    async with ctx.db() as conn, conn.transaction():
        duplicate = await q.login_user_by_oauth_id(conn, subject)
        if duplicate is not None and duplicate["id"] != ctx.user.id:
            log.warning(
                "OAuth link account failed: sub is already linked to another user (%s).",
                duplicate["email"],
            )
            raise BadRequest(ALREADY_LINKED)
        if session is not None and (login.sid or login.id_token):
            await q.set_session_oauth(conn, session.id, login.sid, login.id_token)
        await q.set_oauth_id(conn, ctx.user.id, subject)
        row = await auth_q.user_admin(conn, ctx.user.id)
    assert row is not None
    return user_admin_dto(row)


@operation("unlinkOAuthAccount")
async def unlink_oauth_account(ctx: Ctx) -> UserAdminResponseDto:
    assert ctx.auth is not None
    session = ctx.auth.session
    async with ctx.db() as conn, conn.transaction():
        if session is not None:
            await q.set_session_oauth(conn, session.id, None, None)
        await q.set_oauth_id(conn, ctx.user.id, "")
        row = await auth_q.user_admin(conn, ctx.user.id)
    assert row is not None
    return user_admin_dto(row)


@operation("redirectOAuthToMobile")
async def redirect_oauth_to_mobile(ctx: Ctx) -> Response:
    # Express's req.url split at "?" into at most two pieces: what follows a second "?" is lost.
    query = ctx.request.query_string.decode("latin-1").split("?", 1)[0]
    location = f"{MOBILE_REDIRECT}?{query}"
    body = f"Temporary Redirect. Redirecting to {location}"
    return Response(
        body, status=307, headers={"Location": location}, content_type="text/plain; charset=utf-8"
    )


@operation("logoutOAuth")
async def logout_oauth(ctx: Ctx) -> None:
    token = await _logout_token(ctx)
    oauth = await _oauth_config(ctx)
    if not oauth["enabled"]:
        raise BadRequest(BACKCHANNEL_DISABLED)
    try:
        provider = await oidc.discover(oauth)
        claims = await oidc.verify_logout_token(provider, oauth, token)
    except oidc.OidcError as exc:
        log.error("Error backchannel logout: %s", exc)
        raise BadRequest(BACKCHANNEL_INVALID) from None
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
    if not sid and not sub:
        raise BadRequest(BACKCHANNEL_NO_SUBJECT)
    async with ctx.db() as conn, conn.transaction():
        for session_id in await q.delete_oauth_sessions(conn, sid=sid or None, sub=sub):
            await events.publish_session_deleted(conn, session_id)


async def _logout_token(ctx: Ctx) -> str:
    """The ``logout_token`` of a form body (as providers send it) or of a JSON one."""
    if (ctx.request.mimetype or "") == "application/json":
        data: Any = await ctx.json()
    else:
        form = await ctx.request.form
        data = {key: form.get(key) for key in form}
        assert ctx.op.body_schema is not None
        issues = validation.validate(ctx.op.body_schema, data)
        if issues:
            raise ValidationFailed(issues)
    return str(data["logout_token"])


@operation("unlinkAllOAuthAccountsAdmin")
async def unlink_all_oauth_accounts_admin(ctx: Ctx) -> None:
    async with ctx.db() as conn, conn.transaction():
        await q.unlink_all(conn)
