"""System metadata DTOs (tag "System metadata")."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class AdminOnboardingUpdateDto:
    is_onboarded: bool


@attrs.frozen(kw_only=True)
class ReverseGeocodingStateResponseDto:
    last_update: str | None
    last_import_file_name: str | None


@attrs.frozen(kw_only=True)
class VersionCheckStateResponseDto:
    checked_at: str | None
    release_version: str | None
