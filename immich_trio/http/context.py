"""Per-request context handed to operation handlers: who is calling, validated input, replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs
from psycopg import AsyncConnection
from quart import Request
from werkzeug.exceptions import RequestEntityTooLarge

from immich_trio.http import spec, validation
from immich_trio.http.dto import from_wire
from immich_trio.http.errors import BadRequest, HttpError, ValidationFailed
from immich_trio.runtime import Runtime

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class AuthUser:
    id: UUID
    email: str
    name: str
    is_admin: bool
    quota_size_in_bytes: int | None
    quota_usage_in_bytes: int
    storage_label: str | None


@attrs.frozen(kw_only=True)
class AuthSession:
    id: UUID
    updated_at: datetime
    app_version: str | None
    pin_expires_at: datetime | None
    expires_at: datetime | None
    # PIN-unlocked at the time the request was resolved (Immich's hasElevatedPermission).
    has_elevated_permission: bool = False


@attrs.frozen(kw_only=True)
class AuthApiKey:
    id: UUID
    name: str
    permissions: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Auth:
    """The resolved credentials of a request (AuthDto in Immich)."""

    user: AuthUser
    session: AuthSession | None = None
    api_key: AuthApiKey | None = None
    # The shared_link row when the request came with a key or slug.
    shared_link: dict[str, Any] | None = None
    # The caller's full user row (``sql.users`` shape) when the credential look-up read it.
    user_row: dict[str, Any] | None = attrs.field(default=None, repr=False)

    @property
    def elevated(self) -> bool:
        """A session unlocked with the PIN code: locked assets are reachable."""
        return self.session is not None and self.session.has_elevated_permission


@attrs.frozen(kw_only=True)
class Reply:
    """A handler's answer when it needs more than a body: status, headers, cookies."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    cookies: tuple[str, ...] = ()  # full Set-Cookie values


@attrs.define(kw_only=True)
class Ctx:
    runtime: Runtime
    request: Request
    op: spec.Operation
    auth: Auth | None
    path: dict[str, Any]
    query: dict[str, Any]

    @property
    def user(self) -> AuthUser:
        assert self.auth is not None, "authenticated route"
        return self.auth.user

    @property
    def pool(self) -> Any:
        return self.runtime.pool

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncConnection[Any]]:
        async with self.runtime.pool.connection() as conn:
            yield conn

    async def json(self) -> Any:
        """The request body as validated JSON (against the operation's schema)."""
        try:
            raw = await self.request.get_data(as_text=False)
        except RequestEntityTooLarge:  # a chunked body past the limit: Quart only knows it now
            raise HttpError("request entity too large").with_status(413) from None
        if not raw:
            data: Any = {}
        else:
            import json

            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
                raise BadRequest("Unexpected token in JSON body") from None
        unstorable = validation.unstorable_strings(data)
        if unstorable:
            raise ValidationFailed(unstorable)
        if self.op.body_schema is not None:
            issues = validation.validate(self.op.body_schema, data)
            if issues:
                raise ValidationFailed(issues)
        return data

    async def body(self, cls: type[T]) -> T:
        """The request body validated against the spec and structured into ``cls``."""
        data = await self.json()
        try:
            return from_wire(cls, data)  # type: ignore[no-any-return]
        except Exception as exc:  # cattrs raises grouped errors; the spec check ran first
            raise ValidationFailed(
                [{"code": "custom", "path": [], "message": f"Invalid input: {exc}"}]
            ) from None
