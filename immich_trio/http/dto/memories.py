"""Memories (tag "Memories"): ``memory_dto``, Immich's ``mapMemory``.

The memory's own dates come from its row (``…Z``); its assets were aggregated to JSON in
PostgreSQL by Immich, so their dates keep PostgreSQL's JSON form (behaviour.md §6). Optional
dates that are null are left out, as Immich's ``?? undefined`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from immich_trio.http.dto import OMIT, SqlJsonDatetime, _Omit, key_order
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import AssetResponseDto, MemoryResponseDto, OnThisDayDto
from immich_trio.sql.memories import ASSET_DATES

key_order(
    MemoryResponseDto,
    "id", "created_at", "updated_at", "deleted_at", "memory_at", "seen_at", "show_at", "hide_at",
    "owner_id", "type", "data", "is_saved", "assets",
)  # fmt: skip


def _optional(value: datetime | None) -> datetime | _Omit:
    return OMIT if value is None else value


def _asset(row: Mapping[str, Any], caller_id: UUID) -> AssetResponseDto:
    dated = dict(row)
    for column in ASSET_DATES:
        dated[column] = SqlJsonDatetime.parse(row[f"{column}.json"])
    return asset_dto(dated, caller_id=caller_id)


def memory_dto(row: Mapping[str, Any], caller_id: UUID) -> MemoryResponseDto:
    data: Mapping[str, Any] = row["data"] if isinstance(row["data"], Mapping) else {}
    return MemoryResponseDto(
        id=row["id"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        deleted_at=_optional(row["deletedAt"]),
        memory_at=row["memoryAt"],
        seen_at=_optional(row["seenAt"]),
        show_at=_optional(row["showAt"]),
        hide_at=_optional(row["hideAt"]),
        owner_id=row["ownerId"],
        type=row["type"],
        data=OnThisDayDto(year=data["year"]),
        is_saved=row["isSaved"],
        assets=[_asset(a, caller_id) for a in row.get("assets", ())],
    )
