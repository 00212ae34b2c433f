"""Authentication DTOs (tag "Authentication"): login, logout, sign-up, password, PIN code, status."""

from __future__ import annotations

from uuid import UUID

import attrs

from immich_trio.http.dto import OMIT, _Omit


@attrs.frozen(kw_only=True)
class LoginCredentialDto:
    email: str
    password: str


@attrs.frozen(kw_only=True)
class LoginResponseDto:
    access_token: str
    user_id: UUID
    user_email: str
    name: str
    is_admin: bool
    profile_image_path: str
    should_change_password: bool
    is_onboarded: bool


@attrs.frozen(kw_only=True)
class LogoutResponseDto:
    successful: bool
    redirect_uri: str


@attrs.frozen(kw_only=True)
class SignUpDto:
    email: str
    password: str
    name: str


@attrs.frozen(kw_only=True)
class ChangePasswordDto:
    password: str
    new_password: str
    invalidate_sessions: bool = False


@attrs.frozen(kw_only=True)
class PinCodeSetupDto:
    pin_code: str


@attrs.frozen(kw_only=True)
class PinCodeChangeDto:
    new_pin_code: str
    pin_code: str | None = None
    password: str | None = None


@attrs.frozen(kw_only=True)
class PinCodeResetDto:
    """Also the shape of SessionUnlockDto: the PIN code, or the account password instead."""

    pin_code: str | None = None
    password: str | None = None


SessionUnlockDto = PinCodeResetDto


@attrs.frozen(kw_only=True)
class AuthStatusResponseDto:
    pin_code: bool
    password: bool
    is_elevated: bool
    expires_at: str | _Omit = OMIT
    pin_expires_at: str | _Omit = OMIT


@attrs.frozen(kw_only=True)
class ValidateAccessTokenResponseDto:
    auth_status: bool
