"""Activities (tag "Activities"): ``ActivityResponseDto`` from a row of ``sql/activities.py``.

The author is embedded as Immich aggregates it (its date keeps PostgreSQL's JSON text form);
``comment`` is always present, null for a like (Immich's mapActivity).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.dto import key_order
from immich_trio.http.dto.assets import owner_dto
from immich_trio.http.dto.generated import (
    ActivityResponseDto,
    ActivityStatisticsResponseDto,
)

key_order(ActivityResponseDto, "id", "asset_id", "created_at", "comment", "type", "user")
key_order(ActivityStatisticsResponseDto, "comments", "likes")


def activity_dto(row: Mapping[str, Any]) -> ActivityResponseDto:
    asset_id = row["assetId"]
    return ActivityResponseDto(
        id=UUID(str(row["id"])),
        asset_id=None if asset_id is None else UUID(str(asset_id)),
        created_at=row["createdAt"],
        comment=row["comment"],
        type="like" if row["isLiked"] else "comment",
        user=owner_dto(row["user"]),
    )


def activity_statistics_dto(row: Mapping[str, Any]) -> ActivityStatisticsResponseDto:
    return ActivityStatisticsResponseDto(comments=int(row["comments"]), likes=int(row["likes"]))
