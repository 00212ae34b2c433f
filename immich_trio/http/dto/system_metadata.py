"""System metadata (tag "System metadata"): builders from the stored ``system_metadata`` values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import ReverseGeocodingStateResponseDto

# Immich's class order, not the spec's
key_order(ReverseGeocodingStateResponseDto, "last_update", "last_import_file_name")


def reverse_geocoding_state_dto(value: Mapping[str, Any]) -> ReverseGeocodingStateResponseDto:
    return ReverseGeocodingStateResponseDto(
        last_update=value.get("lastUpdate"), last_import_file_name=value.get("lastImportFileName")
    )
