"""The API keys tag: a user's keys, created with at most the permissions of the creating key."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from immich_trio import crypto
from immich_trio.http.context import Ctx
from immich_trio.http.dto import value_or
from immich_trio.http.dto.api_keys import api_key_dto
from immich_trio.http.dto.generated import (
    ApiKeyCreateDto,
    ApiKeyCreateResponseDto,
    ApiKeyResponseDto,
    ApiKeyUpdateDto,
)
from immich_trio.http.errors import BadRequest, Forbidden
from immich_trio.http.registry import operation
from immich_trio.http.spec import ALL
from immich_trio.sql import api_keys as q

DEFAULT_NAME = "API Key"
NOT_FOUND = "API Key not found"


def _check_grantable(ctx: Ctx, requested: Iterable[str]) -> None:
    """A request made with an API key may not hand out permissions that key lacks."""
    assert ctx.auth is not None
    key = ctx.auth.api_key
    if key is None or ALL in key.permissions:
        return
    if not all(p in key.permissions for p in requested):
        raise BadRequest("Cannot grant permissions you do not have")


@operation("createApiKey")
async def create_api_key(ctx: Ctx) -> ApiKeyCreateResponseDto:
    dto = await ctx.body(ApiKeyCreateDto)
    _check_grantable(ctx, dto.permissions)
    secret = crypto.new_token()
    async with ctx.db() as conn:
        row = await q.create_api_key(
            conn,
            key_hash=crypto.hash_token(secret),
            name=value_or(dto.name, "") or DEFAULT_NAME,
            user_id=ctx.user.id,
            permissions=list[str](dto.permissions),
        )
    return ApiKeyCreateResponseDto(secret=secret, api_key=api_key_dto(row))


@operation("getApiKeys")
async def get_api_keys(ctx: Ctx) -> list[ApiKeyResponseDto]:
    async with ctx.db() as conn:
        rows = await q.api_keys_of_user(conn, ctx.user.id)
    return [api_key_dto(row) for row in rows]


@operation("getMyApiKey")
async def get_my_api_key(ctx: Ctx) -> ApiKeyResponseDto:
    assert ctx.auth is not None
    if ctx.auth.api_key is None:
        raise Forbidden("Not authenticated with an API Key")
    async with ctx.db() as conn:
        row = await q.api_key_of_user(conn, ctx.auth.api_key.id, ctx.user.id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return api_key_dto(row)


@operation("getApiKey")
async def get_api_key(ctx: Ctx) -> ApiKeyResponseDto:
    key_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        row = await q.api_key_of_user(conn, key_id, ctx.user.id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return api_key_dto(row)


@operation("updateApiKey")
async def update_api_key(ctx: Ctx) -> ApiKeyResponseDto:
    dto = await ctx.body(ApiKeyUpdateDto)
    key_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        if await q.api_key_of_user(conn, key_id, ctx.user.id) is None:
            raise BadRequest(NOT_FOUND)
        permissions = value_or(dto.permissions, None)
        if permissions is not None:
            _check_grantable(ctx, permissions)
        row = await q.update_api_key(
            conn, key_id, ctx.user.id, name=value_or(dto.name, None), permissions=permissions
        )
    if row is None:  # deleted in between
        raise BadRequest(NOT_FOUND)
    return api_key_dto(row)


@operation("deleteApiKey")
async def delete_api_key(ctx: Ctx) -> None:
    key_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        if await q.api_key_of_user(conn, key_id, ctx.user.id) is None:
            raise BadRequest(NOT_FOUND)
        await q.delete_api_key(conn, key_id, ctx.user.id)
