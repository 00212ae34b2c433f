"""The Server tag's licence routes: ``GET/PUT/DELETE /server/license`` (admin only).

A valid key is an ``IMSV-`` licence key whose activation key is its signature under Immich's
server public key (``license_keys``); it is stored whole in ``system_metadata['license']``
with ``activatedAt``, as Immich stores it.
"""

from __future__ import annotations

from immich_trio import license_keys
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import LicenseKeyDto, LicenseResponseDto
from immich_trio.http.dto.users import license_dto
from immich_trio.http.errors import BadRequest, NotFound
from immich_trio.http.registry import operation
from immich_trio.sql import system_metadata

LICENSE = "license"


@operation("getServerLicense")
async def get_server_license(ctx: Ctx) -> LicenseResponseDto:
    async with ctx.db() as conn:
        value = await system_metadata.get(conn, LICENSE)
    dto = license_dto(value if isinstance(value, dict) else None)
    if dto is None:
        raise NotFound()
    return dto


@operation("setServerLicense")
async def set_server_license(ctx: Ctx) -> LicenseResponseDto:
    dto = await ctx.body(LicenseKeyDto)
    keys = ctx.runtime.settings.license_keys
    if not license_keys.server_license_valid(dto.license_key, dto.activation_key, keys):
        raise BadRequest("Invalid license key")
    value = {
        "licenseKey": dto.license_key,
        "activationKey": dto.activation_key,
        "activatedAt": ctx.runtime.now().isoformat(),
    }
    async with ctx.db() as conn:
        await system_metadata.set_value(conn, LICENSE, value)
    license = license_dto(value)
    assert license is not None
    return license


@operation("deleteServerLicense")
async def delete_server_license(ctx: Ctx) -> None:
    async with ctx.db() as conn:
        await system_metadata.delete(conn, LICENSE)
