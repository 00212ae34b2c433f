"""Timeline (tag "Timeline"): the query of both timeline routes, parsed into one class.

The answers are built as JSON by Postgres (``sql/timeline.py``) in the shapes of the spec's
``TimeBucketsResponseDto`` and ``TimeBucketAssetResponseDto``, plus the ``status`` array that
Immich's bucket query also selects (docs/reference/behaviour.md §8, getTimeBucket).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http.errors import ValidationFailed
from immich_trio.sql.timeline import BBox


@attrs.frozen(kw_only=True)
class TimeBucketDto:
    """Query parameters of ``getTimeBuckets`` and ``getTimeBucket`` (already spec-validated;
    query parameters are not a schema of the spec, so this class is not generated)."""

    user_id: UUID | None = None
    album_id: UUID | None = None
    person_id: UUID | None = None
    tag_id: UUID | None = None
    is_favorite: bool | None = None
    is_trashed: bool | None = None
    with_stacked: bool = False
    with_partners: bool = False
    with_coordinates: bool = False
    visibility: str | None = None
    order: str = "desc"
    order_by: str = "takenAt"
    bbox: BBox | None = None
    time_bucket: datetime | None = None


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value is not None else None


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"code": "custom", "path": [name], "message": message}])


def parse_bbox(raw: str) -> BBox:
    """``west,south,east,north`` in degrees."""
    parts = raw.split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise _invalid("bbox", "bbox must be west,south,east,north") from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise _invalid("bbox", "bbox must be west,south,east,north within valid coordinates")
    return BBox(west=west, south=south, east=east, north=north)


def parse_time_bucket(raw: str) -> datetime:
    """``2024-03-01`` (or a full ISO date-time); a leading sign of extended years is dropped."""
    text = raw.strip().lstrip("+-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid("timeBucket", "Invalid input: expected an ISO date") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def time_bucket_dto(query: dict[str, Any]) -> TimeBucketDto:
    bbox = query.get("bbox")
    bucket = query.get("timeBucket")
    return TimeBucketDto(
        user_id=_uuid(query.get("userId")),
        album_id=_uuid(query.get("albumId")),
        person_id=_uuid(query.get("personId")),
        tag_id=_uuid(query.get("tagId")),
        is_favorite=query.get("isFavorite"),
        is_trashed=query.get("isTrashed"),
        with_stacked=bool(query.get("withStacked")),
        with_partners=bool(query.get("withPartners")),
        with_coordinates=bool(query.get("withCoordinates")),
        visibility=query.get("visibility"),
        order=query.get("order") or "desc",
        order_by=query.get("orderBy") or "takenAt",
        bbox=parse_bbox(bbox) if bbox else None,
        time_bucket=parse_time_bucket(bucket) if bucket is not None else None,
    )
