"""Tag "System metadata" (admin): admin onboarding flag and the stored job states."""

from __future__ import annotations

from typing import Any

from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import (
    AdminOnboardingUpdateDto,
    ReverseGeocodingStateResponseDto,
    VersionCheckStateResponseDto,
)
from immich_trio.http.dto.system_metadata import reverse_geocoding_state_dto
from immich_trio.http.registry import operation
from immich_trio.sql import system_metadata as q


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@operation("getAdminOnboarding")
async def get_admin_onboarding(ctx: Ctx) -> AdminOnboardingUpdateDto:
    async with ctx.db() as conn:
        value = _dict(await q.get(conn, q.ADMIN_ONBOARDING))
    return AdminOnboardingUpdateDto(is_onboarded=bool(value.get("isOnboarded", False)))


@operation("updateAdminOnboarding")
async def update_admin_onboarding(ctx: Ctx) -> None:
    dto = await ctx.body(AdminOnboardingUpdateDto)
    async with ctx.db() as conn:
        await q.set_value(conn, q.ADMIN_ONBOARDING, {"isOnboarded": dto.is_onboarded})


@operation("getReverseGeocodingState")
async def get_reverse_geocoding_state(ctx: Ctx) -> ReverseGeocodingStateResponseDto:
    async with ctx.db() as conn:
        value = _dict(await q.get(conn, q.REVERSE_GEOCODING_STATE))
    return reverse_geocoding_state_dto(value)


@operation("getVersionCheckState")
async def get_version_check_state(ctx: Ctx) -> VersionCheckStateResponseDto:
    async with ctx.db() as conn:
        value = _dict(await q.get(conn, q.VERSION_CHECK_STATE))
    return VersionCheckStateResponseDto(
        checked_at=value.get("checkedAt"), release_version=value.get("releaseVersion")
    )
