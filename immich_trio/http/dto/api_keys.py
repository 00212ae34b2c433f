"""API keys (tag "API keys"): the builder of ``ApiKeyResponseDto`` from an ``api_key`` row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import ApiKeyCreateResponseDto, ApiKeyResponseDto

# Immich's class order, not the spec's
key_order(ApiKeyResponseDto, "id", "name", "created_at", "updated_at", "permissions")
key_order(ApiKeyCreateResponseDto, "secret", "api_key")


def api_key_dto(row: Mapping[str, Any]) -> ApiKeyResponseDto:
    return ApiKeyResponseDto(
        id=row["id"],
        name=row["name"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        permissions=list(row["permissions"]),
    )
