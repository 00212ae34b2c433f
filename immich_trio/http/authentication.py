"""The Authentication tag: password login/logout, admin sign-up, password and PIN code, elevation.

The OAuth operations are in ``http/oauth.py``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import trio

from immich_trio import crypto, oidc, sysconfig
from immich_trio.http.context import AuthSession, Ctx, Reply
from immich_trio.http.credentials import device_from_user_agent
from immich_trio.http.dto import OMIT, iso_z, value_or
from immich_trio.http.dto.authentication import login_response_dto
from immich_trio.http.dto.generated import (
    AuthStatusResponseDto,
    ChangePasswordDto,
    LoginCredentialDto,
    LogoutResponseDto,
    PinCodeChangeDto,
    PinCodeResetDto,
    PinCodeSetupDto,
    SessionUnlockDto,
    SignUpDto,
    UserAdminResponseDto,
    ValidateAccessTokenResponseDto,
)
from immich_trio.http.dto.users import user_admin_dto
from immich_trio.http.errors import BadRequest, HttpError, Unauthorized
from immich_trio.http.registry import operation
from immich_trio.sql import authentication as q
from immich_trio.sql import events
from immich_trio.sql import oauth as oauth_q
from immich_trio.sql import sessions as sessions_q
from immich_trio.sql import users as users_q

ACCESS_TOKEN_COOKIE = "immich_access_token"
AUTH_TYPE_COOKIE = "immich_auth_type"
IS_AUTHENTICATED_COOKIE = "immich_is_authenticated"
COOKIE_MAX_AGE = timedelta(days=400)
CLEARED_COOKIE_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"
LOGIN_URL = "/auth/login?autoLaunch=0"
ADMIN_STORAGE_LABEL = "admin"
PIN_UNLOCK_DURATION = timedelta(minutes=15)
NEEDS_SESSION = "This endpoint can only be used with a session token"


# --- cookies ---------------------------------------------------------------------------------


def _trusted_proxy(ctx: Ctx, remote: str | None) -> bool:
    """Express ``trust proxy``: loopback plus ``IMMICH_TRUSTED_PROXIES`` (addresses or CIDRs)."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    for entry in ctx.runtime.settings.trusted_proxies:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def is_https(ctx: Ctx) -> bool:
    """Express's ``req.secure``: the connection's scheme, or the proxy's first X-Forwarded-Proto."""
    request = ctx.request
    forwarded = request.headers.get("X-Forwarded-Proto")
    if forwarded and _trusted_proxy(ctx, request.remote_addr):
        return forwarded.split(",", 1)[0].strip().lower() == "https"
    return request.scheme == "https"


def cookie(name: str, value: str, *, http_only: bool, secure: bool, now: datetime) -> str:
    """A Set-Cookie value with Immich's options (Path=/, SameSite=Lax, 400 days)."""
    expires = format_datetime(now + COOKIE_MAX_AGE, usegmt=True)
    tail = f"; Max-Age={int(COOKIE_MAX_AGE.total_seconds())}; Path=/; Expires={expires}"
    secure_flag = "; Secure" if secure else ""
    return f"{name}={value}{tail}{'; HttpOnly' if http_only else ''}{secure_flag}; SameSite=Lax"


def cleared_cookie(name: str) -> str:
    return f"{name}=; Path=/; Expires={CLEARED_COOKIE_EXPIRES}"


def login_cookies(
    token: str, *, secure: bool, now: datetime, auth_type: str = "password"
) -> tuple[str, ...]:
    return (
        cookie(ACCESS_TOKEN_COOKIE, token, http_only=True, secure=secure, now=now),
        cookie(AUTH_TYPE_COOKIE, auth_type, http_only=True, secure=secure, now=now),
        cookie(IS_AUTHENTICATED_COOKIE, "true", http_only=False, secure=secure, now=now),
    )


CLEARED_COOKIES = tuple(
    cleared_cookie(name) for name in (ACCESS_TOKEN_COOKIE, AUTH_TYPE_COOKIE, IS_AUTHENTICATED_COOKIE)
)


# --- secrets (bcrypt is CPU work: keep it off the event loop) ---------------------------------


async def _check(secret: str, hashed: str | None) -> bool:
    return await trio.to_thread.run_sync(crypto.check_password, secret, hashed)


async def _hash(secret: str) -> str:
    return await trio.to_thread.run_sync(crypto.hash_password, secret)


async def _verify_pin_or_password(
    secrets: dict[str, Any] | None, dto: PinCodeResetDto | PinCodeChangeDto | SessionUnlockDto
) -> None:
    """The account password, else the current PIN code, must match (PIN changes, reset, unlock)."""
    if secrets is None or not secrets["pinCode"]:
        raise BadRequest("User does not have a PIN code")
    password = value_or(dto.password, "")
    pin_code = value_or(dto.pin_code, "")
    if password:
        if not await _check(password, secrets["password"]):
            raise BadRequest("Wrong password")
    elif pin_code:
        if not await _check(pin_code, secrets["pinCode"]):
            raise BadRequest("Wrong PIN code")
    else:
        raise BadRequest("Either password or pinCode is required")


def _session_of(ctx: Ctx) -> AuthSession:
    assert ctx.auth is not None
    if ctx.auth.session is None:
        raise BadRequest(NEEDS_SESSION)
    return ctx.auth.session


# --- operations --------------------------------------------------------------------------------


@operation("login")
async def login(ctx: Ctx) -> Reply:
    dto = await ctx.body(LoginCredentialDto)
    email = dto.email.lower()
    async with ctx.db() as conn:
        config = await sysconfig.load(conn)
        if not config["passwordLogin"]["enabled"]:
            raise Unauthorized("Password login has been disabled")
        user = await q.login_user(conn, email)
    # bcrypt runs for unknown emails too, so timing does not tell which emails exist.
    valid = await _check(dto.password, user["password"] if user else None)
    if user is None or not valid:
        raise Unauthorized("Incorrect email or password")

    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    app_version, device_type, device_os = device_from_user_agent(
        headers.get("user-agent") or "", headers
    )
    token = crypto.new_token()
    async with ctx.db() as conn:
        await sessions_q.create_session(
            conn,
            token_hash=crypto.hash_token(token),
            user_id=user["id"],
            device_type=device_type,
            device_os=device_os,
            app_version=app_version,
        )
    body = login_response_dto(user, token)
    return Reply(
        body=body, cookies=login_cookies(token, secure=is_https(ctx), now=ctx.runtime.now())
    )


@operation("logout")
async def logout(ctx: Ctx) -> Reply:
    assert ctx.auth is not None
    session = ctx.auth.session
    id_token = None
    if session is not None:  # with an API key nothing is deleted
        async with ctx.db() as conn, conn.transaction():
            id_token = await oauth_q.session_bearer_token(conn, session.id)
            await sessions_q.delete_session(conn, session.id)
            # Tell the session's sockets, then drop them: the token no longer works.
            await events.publish_session_deleted(conn, session.id)
    redirect_uri = await _logout_redirect(ctx, id_token)
    return Reply(
        body=LogoutResponseDto(successful=True, redirect_uri=redirect_uri), cookies=CLEARED_COOKIES
    )


async def _logout_redirect(ctx: Ctx, id_token: str | None) -> str:
    """After an OAuth login: the provider's end-session endpoint, with ``id_token_hint``."""
    if ctx.request.cookies.get(AUTH_TYPE_COOKIE) != "oauth":
        return LOGIN_URL
    async with ctx.db() as conn:
        oauth = (await sysconfig.load(conn))["oauth"]
    if not oauth["enabled"]:
        return LOGIN_URL
    endpoint = oauth.get("endSessionEndpoint") or ""
    if not endpoint:
        try:
            endpoint = (await oidc.discover(oauth)).end_session_endpoint or LOGIN_URL
        except oidc.DiscoveryError as exc:
            raise HttpError(f"Error in OAuth discovery: {exc}") from None
    if not id_token or endpoint == LOGIN_URL:
        return str(endpoint)
    parts = urlsplit(endpoint)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "id_token_hint"]
    query.append(("id_token_hint", id_token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))


@operation("signUpAdmin")
async def sign_up_admin(ctx: Ctx) -> UserAdminResponseDto:
    dto = await ctx.body(SignUpDto)
    if not ctx.runtime.settings.allow_setup:
        raise BadRequest("Admin setup is disabled")
    email = dto.email.lower()
    async with ctx.db() as conn:
        if await users_q.admin_exists(conn):
            raise BadRequest("The server already has an admin")
    password_hash = await _hash(dto.password)
    async with ctx.db() as conn, conn.transaction():
        await q.lock_admin_sign_up(conn)
        if await users_q.admin_exists(conn):  # another sign-up won while we hashed
            raise BadRequest("The server already has an admin")
        if await q.email_exists(conn, email):
            raise BadRequest("Email is not available")
        if await q.storage_label_exists(conn, ADMIN_STORAGE_LABEL):
            raise BadRequest("Storage label already exists")
        row = await q.create_admin(
            conn,
            email=email,
            name=dto.name,
            password_hash=password_hash,
            storage_label=ADMIN_STORAGE_LABEL,
        )
    return user_admin_dto(row)


@operation("validateAccessToken")
async def validate_access_token(ctx: Ctx) -> ValidateAccessTokenResponseDto:
    return ValidateAccessTokenResponseDto(auth_status=True)


@operation("changePassword")
async def change_password(ctx: Ctx) -> UserAdminResponseDto:
    dto = await ctx.body(ChangePasswordDto)
    assert ctx.auth is not None
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
    if not await _check(dto.password, secrets["password"] if secrets else None):
        raise BadRequest("Wrong password")
    password_hash = await _hash(dto.new_password)
    keep = ctx.auth.session.id if ctx.auth.session else None
    async with ctx.db() as conn, conn.transaction():
        await q.set_password(conn, ctx.user.id, password_hash)
        if value_or(dto.invalidate_sessions, False):
            await sessions_q.delete_other_sessions(conn, ctx.user.id, keep)
        row = await q.user_admin(conn, ctx.user.id)
    assert row is not None
    return user_admin_dto(row)


@operation("getAuthStatus")
async def get_auth_status(ctx: Ctx) -> AuthStatusResponseDto:
    assert ctx.auth is not None
    session = ctx.auth.session
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
        if secrets is None:
            raise Unauthorized()
        row = await sessions_q.session_by_id(conn, session.id) if session else None
    expires_at = row["expiresAt"] if row else None
    pin_expires_at = row["pinExpiresAt"] if row else None
    return AuthStatusResponseDto(
        pin_code=bool(secrets["pinCode"]),
        password=bool(secrets["password"]),
        is_elevated=ctx.auth.elevated,
        expires_at=iso_z(expires_at) if expires_at else OMIT,
        pin_expires_at=iso_z(pin_expires_at) if pin_expires_at else OMIT,
    )


@operation("setupPinCode")
async def setup_pin_code(ctx: Ctx) -> None:
    dto = await ctx.body(PinCodeSetupDto)
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
    if secrets is None:
        raise Unauthorized()
    if secrets["pinCode"]:
        raise BadRequest("User already has a PIN code")
    pin_hash = await _hash(dto.pin_code)
    async with ctx.db() as conn:
        await q.set_pin_code(conn, ctx.user.id, pin_hash)


@operation("changePinCode")
async def change_pin_code(ctx: Ctx) -> None:
    dto = await ctx.body(PinCodeChangeDto)
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
    await _verify_pin_or_password(secrets, dto)
    pin_hash = await _hash(dto.new_pin_code)
    async with ctx.db() as conn:
        await q.set_pin_code(conn, ctx.user.id, pin_hash)


@operation("resetPinCode")
async def reset_pin_code(ctx: Ctx) -> None:
    dto = await ctx.body(PinCodeResetDto)
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
    await _verify_pin_or_password(secrets, dto)
    async with ctx.db() as conn, conn.transaction():
        await q.set_pin_code(conn, ctx.user.id, None)
        await sessions_q.lock_all_sessions(conn, ctx.user.id)


@operation("unlockAuthSession")
async def unlock_auth_session(ctx: Ctx) -> None:
    dto = await ctx.body(SessionUnlockDto)
    session = _session_of(ctx)
    async with ctx.db() as conn:
        secrets = await q.secrets_of_user(conn, ctx.user.id)
    await _verify_pin_or_password(secrets, dto)
    async with ctx.db() as conn:
        await sessions_q.set_pin_expires(conn, session.id, ctx.runtime.now() + PIN_UNLOCK_DURATION)


@operation("lockAuthSession")
async def lock_auth_session(ctx: Ctx) -> None:
    session = _session_of(ctx)
    async with ctx.db() as conn:
        await sessions_q.set_pin_expires(conn, session.id, None)
