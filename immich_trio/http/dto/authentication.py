"""Authentication (tag "Authentication"): the builder of ``LoginResponseDto`` and Immich's key order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import (
    AuthStatusResponseDto,
    LoginResponseDto,
    LogoutResponseDto,
)

# Immich's class order, not the spec's
key_order(
    LoginResponseDto,
    "access_token",
    "user_id",
    "user_email",
    "name",
    "is_admin",
    "profile_image_path",
    "should_change_password",
    "is_onboarded",
)
key_order(LogoutResponseDto, "successful", "redirect_uri")
key_order(
    AuthStatusResponseDto, "pin_code", "password", "is_elevated", "expires_at", "pin_expires_at"
)


def login_response_dto(user: Mapping[str, Any], token: str) -> LoginResponseDto:
    return LoginResponseDto(
        access_token=token,
        user_id=user["id"],
        user_email=user["email"],
        name=user["name"],
        is_admin=user["isAdmin"],
        profile_image_path=user["profileImagePath"],
        should_change_password=user["shouldChangePassword"],
        is_onboarded=user["isOnboarded"],
    )
