"""API key DTOs (tag "API keys")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs


@attrs.frozen(kw_only=True)
class ApiKeyResponseDto:
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime
    permissions: list[str]


@attrs.frozen(kw_only=True)
class ApiKeyCreateResponseDto:
    secret: str
    api_key: ApiKeyResponseDto


@attrs.frozen(kw_only=True)
class ApiKeyCreateDto:
    permissions: list[str]
    name: str | None = None


def api_key_dto(row: Mapping[str, Any]) -> ApiKeyResponseDto:
    return ApiKeyResponseDto(
        id=row["id"],
        name=row["name"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        permissions=list(row["permissions"]),
    )
