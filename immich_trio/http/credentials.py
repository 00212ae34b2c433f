"""Credential resolution in Immich's order, and the route-level checks (behaviour.md §3)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import Request

from immich_trio import crypto
from immich_trio.http.context import Auth, AuthApiKey, AuthSession, AuthUser
from immich_trio.http.errors import Forbidden, Unauthorized
from immich_trio.http.spec import ALL, Operation
from immich_trio.runtime import Runtime
from immich_trio.sql import credentials as q
from immich_trio.sql import sessions as sessions_q

SESSION_TOUCH_AFTER = timedelta(hours=1)
# An elevated (PIN-unlocked) session in use is kept unlocked for at least this long.
PIN_KEEP_ALIVE = timedelta(minutes=5)
SHARED_LINK_TOKEN_COOKIE = "immich_shared_link_token"
# Set on a resolved link: False for a password link whose holder has not proved the password.
PASSWORD_PROVEN = "passwordProven"
# The routes a password link reaches before the password is proved: they ask for it.
PASSWORD_ROUTES = frozenset({"getMySharedLink", "sharedLinkLogin"})
_APP_VERSION = re.compile(r"immich[-_](android|ios|unknown)[/_]([0-9][^\s;)]*)", re.IGNORECASE)


def parse_cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


@functools.lru_cache(maxsize=1024)
def _app_version_of(ua: str) -> tuple[str | None, str | None]:
    """The app version and platform a client's User-Agent names (a client sends the same one on
    every request: kept, so that the cached session path does not search it each time)."""
    match = _APP_VERSION.search(ua)
    return (match.group(2), match.group(1)) if match else (None, None)


def device_from_user_agent(ua: str, headers: Mapping[str, str]) -> tuple[str | None, str, str]:
    """(appVersion, deviceType, deviceOS) as Immich derives them for a session."""
    app_version, platform = _app_version_of(ua)
    device_type = headers.get("devicemodel") or ""
    device_os = headers.get("devicetype") or ""
    if not device_os:
        for needle, os_name in (
            ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Mac OS", "Mac OS"),
            ("Windows", "Windows"), ("Linux", "Linux"),
        ):
            if needle in ua:
                device_os = os_name
                break
    if not device_type:
        for needle, type_name in (("Firefox", "Firefox"), ("Edg/", "Edge"), ("Chrome", "Chrome"), ("Safari", "Safari")):
            if needle in ua:
                device_type = type_name
                break
    if platform is not None and not device_os:
        device_os = {"android": "Android", "ios": "iOS"}.get(platform.lower(), "")
    return app_version, device_type, device_os


def _user_of_row(user: Mapping[str, Any]) -> AuthUser:
    """The AuthUser of a ``sql.users`` row."""
    return AuthUser(
        id=user["id"],
        email=user["email"],
        name=user["name"],
        is_admin=user["isAdmin"],
        quota_size_in_bytes=user["quotaSizeInBytes"],
        quota_usage_in_bytes=user["quotaUsageInBytes"],
        storage_label=user["storageLabel"],
    )


def _user(row: Mapping[str, Any]) -> AuthUser:
    """The AuthUser of a shared-link row (user columns prefixed as in ``sql.credentials``)."""
    return AuthUser(
        id=row["userId"],
        email=row["email"],
        name=row["name"],
        is_admin=row["isAdmin"],
        quota_size_in_bytes=row["quotaSizeInBytes"],
        quota_usage_in_bytes=row["quotaUsageInBytes"],
        storage_label=row["storageLabel"],
    )


def _decode_share_key(key: str) -> bytes | None:
    if len(key) == 100 and re.fullmatch(r"[0-9a-fA-F]+", key):
        return bytes.fromhex(key)
    try:
        return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    except (binascii.Error, ValueError):
        return None


def credential_sources(request: Request, *, shared_links: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """Lower-cased headers and the credential query parameters of a Quart request."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    # HTTP/2 clients (and Quart's test client) may split cookies over several headers.
    if len(cookie_headers := request.headers.getlist("Cookie")) > 1:
        headers["cookie"] = "; ".join(cookie_headers)
    names = ("key", "slug", "sessionKey", "apiKey") if shared_links else ("sessionKey", "apiKey")
    args = request.args  # a cached property: one lookup, not two per name
    query = {k: args[k] for k in names if k in args} if args else {}
    return headers, query


def _session_token(headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    for name in ("x-immich-user-token", "x-immich-session-token"):
        if headers.get(name):
            return headers[name]
    if query.get("sessionKey"):
        return query["sessionKey"]
    authorization = headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return cookies.get("immich_access_token") or None


async def resolve(
    runtime: Runtime, headers: Mapping[str, str], query: Mapping[str, str], *, allow_query: bool = True
) -> Auth | None:
    """The request's credentials, or None when it carries none; 401 when they are invalid.

    The first kind present wins even when it is invalid, as in Immich.
    """
    if not allow_query:
        query = {}
    cookies = parse_cookies(headers.get("cookie"))
    share_key = headers.get("x-immich-share-key") or query.get("key")
    share_slug = headers.get("x-immich-share-slug") or query.get("slug")
    if share_key:
        decoded = _decode_share_key(share_key)
        async with runtime.pool.connection() as conn:
            row = await q.shared_link_by_key(conn, decoded) if decoded else None
        return _shared_link_auth(runtime, row, "Invalid share key", cookies)
    if share_slug:
        async with runtime.pool.connection() as conn:
            row = await q.shared_link_by_slug(conn, share_slug)
        return _shared_link_auth(runtime, row, "Invalid share slug", cookies)
    token = _session_token(headers, query, cookies)
    if token:
        return await _session_auth(runtime, token, headers)
    api_key = headers.get("x-api-key") or query.get("apiKey")
    if api_key:
        return await _api_key_auth(runtime, api_key)
    return None


def link_token(link_id: UUID | str, password: str) -> str:
    """The proof of a link's password that Immich's shared-link cookie carries."""
    return base64.b64encode(hashlib.sha256(f"{link_id}-{password}".encode()).digest()).decode()


def link_tokens(cookies: Mapping[str, str]) -> list[str]:
    """The tokens of the links this client unlocked (comma-joined in one cookie)."""
    return [t for t in cookies.get(SHARED_LINK_TOKEN_COOKIE, "").split(",") if t]


def _shared_link_auth(
    runtime: Runtime, row: Mapping[str, Any] | None, message: str, cookies: Mapping[str, str]
) -> Auth:
    if row is None or row["userDeletedAt"] is not None:
        raise Unauthorized(message)
    expires: datetime | None = row["expiresAt"]
    if expires is not None and expires < runtime.now():
        raise Unauthorized(message)
    link = dict(row)
    password = link.get("password")
    # A password link admits only a holder who proved the password (the cookie), on every
    # route but the two that ask for it. Immich v3.1 checks it on GET /shared-links/me only
    # (behaviour.md §3; reported as a bypass, immich-app/immich#29599): we close that hole.
    link[PASSWORD_PROVEN] = not password or link_token(link["id"], password) in link_tokens(cookies)
    return Auth(user=_user(row), shared_link=link)


async def _api_key_auth(runtime: Runtime, api_key: str) -> Auth:
    key_hash = crypto.hash_token(api_key)
    cache = runtime.credentials
    cache_key = b"k" + key_hash  # kinds apart: a session token sent as an API key is no key
    cached: Auth | None = cache.get(cache_key)
    if cached is not None:
        return cached
    generation = cache.generation
    async with runtime.pool.connection() as conn:
        found = await q.api_key_by_hash(conn, key_hash)
    if found is None or found[1]["deletedAt"] is not None:
        raise Unauthorized("Invalid API key")
    row, user = found
    key = AuthApiKey(id=row["id"], name=row["name"], permissions=tuple(row["permissions"]))
    auth = Auth(user=_user_of_row(user), api_key=key, user_row=user)
    cache.put(cache_key, user["id"], auth, generation)
    return auth


@attrs.frozen
class _SessionFound:
    """A valid session look-up as cached: what the Auth is built from at each request."""

    row: dict[str, Any]
    user_row: dict[str, Any]
    user: AuthUser
    plain: Auth | None = None
    """The Auth itself when no PIN elevation is in play (it then does not change with time)."""


def _session_writes(
    row: Mapping[str, Any], headers: Mapping[str, str], now: datetime
) -> tuple[tuple[str | None, str, str] | None, datetime | None]:
    """What the request must write first: the touch (appVersion, deviceType, deviceOS) Immich
    does on an hour-old or upgraded session, and the PIN keep-alive's new ``pinExpiresAt``."""
    ua = headers.get("user-agent") or ""
    app_version = _app_version_of(ua)[0]
    touch = None
    if now - row["updatedAt"] > SESSION_TOUCH_AFTER or (app_version and app_version != row["appVersion"]):
        _, device_type, device_os = device_from_user_agent(ua, headers)
        touch = (app_version or row["appVersion"], device_type or row["deviceType"], device_os or row["deviceOS"])
    pin_expires_at: datetime | None = row["pinExpiresAt"]
    keep_alive = None
    if pin_expires_at is not None and now < pin_expires_at < now + PIN_KEEP_ALIVE:
        keep_alive = now + PIN_KEEP_ALIVE
    return touch, keep_alive


def _session_valid(found: tuple[dict[str, Any], dict[str, Any]] | None, now: datetime) -> bool:
    return not (
        found is None
        or found[1]["deletedAt"] is not None
        or (found[0]["expiresAt"] is not None and found[0]["expiresAt"] < now)
    )


async def _session_auth(runtime: Runtime, token: str, headers: Mapping[str, str]) -> Auth:
    token_hash = crypto.hash_token(token)
    cache = runtime.credentials
    now = runtime.now()
    cache_key = b"s" + token_hash
    cached: _SessionFound | None = cache.get(cache_key)
    if cached is not None:
        expires_at = cached.row["expiresAt"]
        if (expires_at is None or expires_at >= now) and _session_writes(cached.row, headers, now) == (None, None):
            return cached.plain or _session_of(cached, cached.row["pinExpiresAt"], now)
    generation = cache.generation
    async with runtime.pool.connection() as conn:
        found = await q.session_by_token(conn, token_hash)
        now = runtime.now()
        if found is None or not _session_valid(found, now):
            raise Unauthorized("Invalid user token")
        row, user = found
        touch, keep_alive = _session_writes(row, headers, now)
        if touch is not None:
            await q.touch_session(conn, row["id"], *touch)
        if keep_alive is not None:
            await sessions_q.set_pin_expires(conn, row["id"], keep_alive)
    result = _SessionFound(row=row, user_row=user, user=_user_of_row(user))
    if touch is None and keep_alive is None:
        if row["pinExpiresAt"] is None:
            result = attrs.evolve(result, plain=_session_of(result, None, now))
        cache.put(cache_key, user["id"], result, generation)
    return _session_of(result, keep_alive or row["pinExpiresAt"], now)


def _session_of(found: _SessionFound, pin_expires_at: datetime | None, now: datetime) -> Auth:
    row = found.row
    session = AuthSession(
        id=row["id"],
        updated_at=row["updatedAt"],
        app_version=row["appVersion"],
        pin_expires_at=pin_expires_at,
        expires_at=row["expiresAt"],
        has_elevated_permission=pin_expires_at is not None and pin_expires_at > now,
    )
    return Auth(user=found.user, session=session, user_row=found.user_row)


def check_route(op: Operation, auth: Auth | None) -> None:
    """Route-level checks after resolution: authentication, shared links, admin, API-key permission."""
    if op.public:
        return
    if auth is None:
        raise Unauthorized("Authentication required")
    if auth.shared_link is not None and not op.shared_link:
        raise Forbidden()
    if (
        auth.shared_link is not None
        and not auth.shared_link[PASSWORD_PROVEN]
        and op.operation_id not in PASSWORD_ROUTES
    ):
        raise Unauthorized("Password required")
    if op.admin_only and not auth.user.is_admin:
        raise Forbidden()
    if auth.api_key is not None and op.permission is not None:
        granted = auth.api_key.permissions
        if ALL not in granted and op.permission not in granted:
            raise Forbidden(f"Missing required permission: {op.permission}")


@attrs.frozen
class SocketPrincipal:
    user_id: str
    session_id: str | None


async def authenticate_socket(runtime: Runtime, headers: Mapping[str, str]) -> SocketPrincipal:
    """The socket.io handshake: headers only, no shared links, API keys need ``all``."""
    auth = await resolve(runtime, headers, {}, allow_query=False)
    if auth is None:
        raise Unauthorized("Authentication required")
    if auth.shared_link is not None:
        raise Forbidden()
    if auth.api_key is not None and ALL not in auth.api_key.permissions:
        raise Forbidden(f"Missing required permission: {ALL}")
    session_id = str(auth.session.id) if auth.session is not None else None
    return SocketPrincipal(user_id=str(auth.user.id), session_id=session_id)
