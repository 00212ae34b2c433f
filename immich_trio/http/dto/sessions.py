"""Session DTOs (tag "Sessions")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http.dto import OMIT, _Omit

_DEVICE_OS = {"wire": "deviceOS"}


@attrs.frozen(kw_only=True)
class SessionResponseDto:
    id: UUID
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | _Omit = OMIT
    current: bool
    app_version: str | None
    device_os: str = attrs.field(metadata=_DEVICE_OS)
    device_type: str
    is_pending_sync_reset: bool


@attrs.frozen(kw_only=True)
class SessionCreateResponseDto:
    id: UUID
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | _Omit = OMIT
    current: bool
    app_version: str | None
    device_os: str = attrs.field(metadata=_DEVICE_OS)
    device_type: str
    is_pending_sync_reset: bool
    token: str


@attrs.frozen(kw_only=True)
class SessionCreateDto:
    device_os: str | None = attrs.field(default=None, metadata=_DEVICE_OS)
    device_type: str | None = None
    duration: int | None = None


def session_dto(row: Mapping[str, Any], current_id: UUID | None = None) -> SessionResponseDto:
    expires = row["expiresAt"]
    return SessionResponseDto(
        id=row["id"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        expires_at=OMIT if expires is None else expires,
        current=current_id is not None and row["id"] == current_id,
        app_version=row["appVersion"],
        device_os=row["deviceOS"],
        device_type=row["deviceType"],
        is_pending_sync_reset=row["isPendingSyncReset"],
    )


def session_create_dto(row: Mapping[str, Any], token: str) -> SessionCreateResponseDto:
    base = session_dto(row)
    return SessionCreateResponseDto(**attrs.asdict(base, recurse=False), token=token)
