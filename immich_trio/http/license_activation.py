"""What the server and user licence routes share: the stored form of an activated key and the
answer for a stored one (Immich keeps ``{licenseKey, activationKey, activatedAt}``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import LicenseKeyDto, UserLicense
from immich_trio.http.dto.users import license_dto
from immich_trio.http.errors import BadRequest, NotFound
from immich_trio.license_keys import LicensePublicKeys

LICENSE = "license"  # the metadata key, in system_metadata (server) and user_metadata (user)

Validity = Callable[[str, str, LicensePublicKeys], bool]


def stored_license(value: Any) -> UserLicense:
    """The answer for a stored licence; 404 when there is none."""
    dto = license_dto(value if isinstance(value, dict) else None)
    if dto is None:
        raise NotFound()
    return dto


async def activation(ctx: Ctx, valid: Validity) -> tuple[dict[str, str], UserLicense]:
    """The request's key checked by ``valid`` (400 ``Invalid license key``): what to store, and
    the answer."""
    dto = await ctx.body(LicenseKeyDto)
    if not valid(dto.license_key, dto.activation_key, ctx.runtime.settings.license_keys):
        raise BadRequest("Invalid license key")
    value = {
        "licenseKey": dto.license_key,
        "activationKey": dto.activation_key,
        "activatedAt": ctx.runtime.now().isoformat(),
    }
    return value, stored_license(value)
