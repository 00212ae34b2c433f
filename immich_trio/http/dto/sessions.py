"""Sessions (tag "Sessions"): builders of ``SessionResponseDto`` from a ``session`` row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http.dto import OMIT, iso_z, key_order
from immich_trio.http.dto.generated import SessionCreateResponseDto, SessionResponseDto

# Immich's class order, not the spec's
_ORDER = (
    "id",
    "created_at",
    "updated_at",
    "expires_at",
    "current",
    "app_version",
    "device_os",
    "device_type",
    "is_pending_sync_reset",
)
key_order(SessionResponseDto, *_ORDER)
key_order(SessionCreateResponseDto, *_ORDER, "token")


def session_dto(row: Mapping[str, Any], current_id: UUID | None = None) -> SessionResponseDto:
    expires = row["expiresAt"]
    return SessionResponseDto(
        id=row["id"],
        created_at=iso_z(row["createdAt"]),
        updated_at=iso_z(row["updatedAt"]),
        expires_at=OMIT if expires is None else iso_z(expires),
        current=current_id is not None and row["id"] == current_id,
        app_version=row["appVersion"],
        device_os=row["deviceOS"],
        device_type=row["deviceType"],
        is_pending_sync_reset=row["isPendingSyncReset"],
    )


def session_create_dto(row: Mapping[str, Any], token: str) -> SessionCreateResponseDto:
    return SessionCreateResponseDto(**attrs.asdict(session_dto(row), recurse=False), token=token)
