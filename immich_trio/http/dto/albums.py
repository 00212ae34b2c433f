"""Albums: album rows (``sql/albums/read.py``) onto the generated DTOs, in Immich's key order.

Immich builds an album three ways, and the figures differ slightly between them:
- list and get (``getAll``/``get``): asset figures from ``getMetadataForIds`` (start/end are
  local *dates* at midnight UTC, plus ``lastModifiedAssetTimestamp``);
- create, update, add users (``mapAlbum`` over the album's asset list): start/end are the
  local date-times of the oldest and newest asset as PostgreSQL wrote them into JSON, and no
  ``lastModifiedAssetTimestamp``.
Members are embedded JSON, so their ``profileChangedAt`` keeps PostgreSQL's form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal
from uuid import UUID

from immich_trio.http.dto import OMIT, SqlJsonDatetime, key_order
from immich_trio.http.dto.assets import owner_dto
from immich_trio.http.dto.generated import (
    AlbumResponseDto,
    AlbumStatisticsResponseDto,
    AlbumUserResponseDto,
    ContributorCountResponseDto,
    MapMarkerResponseDto,
)

key_order(
    AlbumResponseDto,
    "album_name", "description", "album_thumbnail_asset_id", "created_at", "updated_at", "id",
    "album_users", "shared", "has_shared_link", "start_date", "end_date", "asset_count",
    "is_activity_enabled", "order", "last_modified_asset_timestamp", "contributor_counts",
)
key_order(AlbumUserResponseDto, "user", "role")
key_order(AlbumStatisticsResponseDto, "owned", "shared", "not_shared")
key_order(ContributorCountResponseDto, "user_id", "asset_count")
key_order(MapMarkerResponseDto, "id", "lat", "lon", "city", "state", "country")

Figures = Literal["metadata", "assets"]


def _midnight(value: date | None) -> datetime | Any:
    return OMIT if value is None else datetime(value.year, value.month, value.day, tzinfo=UTC)


def _sql_json(value: str | None) -> SqlJsonDatetime | Any:
    return OMIT if value is None else SqlJsonDatetime.parse(value)


def member_ids(row: Mapping[str, Any]) -> list[UUID]:
    return [UUID(str(m["user"]["id"])) for m in row["albumUsers"] or []]


def album_dto(
    row: Mapping[str, Any], *, figures: Figures = "metadata", has_shared_link: bool | None = None,
    contributors: Sequence[Mapping[str, Any]] | None = None,
) -> AlbumResponseDto:
    members = row["albumUsers"] or []
    link = row["hasSharedLink"] if has_shared_link is None else has_shared_link
    count = row["assetCount"] or 0
    if figures == "metadata":
        start, end = _midnight(row["startDate"]), _midnight(row["endDate"])
        last_modified = row["lastModifiedAssetTimestamp"] or OMIT
    else:
        start, end = _sql_json(row["lastLocal"]), _sql_json(row["firstLocal"])
        if start is not OMIT and end is not OMIT and start > end:
            start, end = end, start
        last_modified = OMIT
    return AlbumResponseDto(
        album_name=row["albumName"],
        description=row["description"],
        album_thumbnail_asset_id=row["albumThumbnailAssetId"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        id=row["id"],
        album_users=[AlbumUserResponseDto(user=owner_dto(m["user"]), role=m["role"]) for m in members],
        shared=len(members) > 1 or link,
        has_shared_link=link,
        start_date=start,
        end_date=end,
        asset_count=count,
        is_activity_enabled=row["isActivityEnabled"],
        order=row["order"],
        last_modified_asset_timestamp=last_modified,
        contributor_counts=OMIT if contributors is None else [
            ContributorCountResponseDto(user_id=c["userId"], asset_count=c["assetCount"]) for c in contributors
        ],
    )


def statistics_dto(row: Mapping[str, Any]) -> AlbumStatisticsResponseDto:
    return AlbumStatisticsResponseDto(owned=row["owned"], shared=row["shared"], not_shared=row["notShared"])


def map_marker_dto(row: Mapping[str, Any]) -> MapMarkerResponseDto:
    return MapMarkerResponseDto(
        id=row["id"], lat=row["lat"], lon=row["lon"], city=row["city"], state=row["state"], country=row["country"]
    )
