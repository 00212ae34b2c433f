"""The Server tag's licence routes: ``GET/PUT/DELETE /server/license`` (admin only).

A valid key is an ``IMSV-`` licence key whose activation key is its signature under Immich's
server public key (``license_keys``); it is stored whole in ``system_metadata['license']``
with ``activatedAt``, as Immich stores it.
"""

from __future__ import annotations

from immich_trio import license_keys
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import LicenseResponseDto
from immich_trio.http.license_activation import LICENSE, activation, stored_license
from immich_trio.http.registry import operation
from immich_trio.sql import system_metadata


@operation("getServerLicense")
async def get_server_license(ctx: Ctx) -> LicenseResponseDto:
    async with ctx.db() as conn:
        return stored_license(await system_metadata.get(conn, LICENSE))


@operation("setServerLicense")
async def set_server_license(ctx: Ctx) -> LicenseResponseDto:
    value, answer = await activation(ctx, license_keys.server_license_valid)
    async with ctx.db() as conn:
        await system_metadata.set_value(conn, LICENSE, value)
    return answer


@operation("deleteServerLicense")
async def delete_server_license(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        await system_metadata.delete(conn, LICENSE)
