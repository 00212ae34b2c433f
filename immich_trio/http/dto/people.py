"""People and faces wire types in the key order of Immich's responses, and row mappers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from immich_trio.http.dto import OMIT, SqlJsonDatetime, key_order
from immich_trio.http.dto.generated import (
    AssetFaceResponseDto,
    PeopleResponseDto,
    PersonResponseDto,
)

key_order(
    PersonResponseDto,
    "id", "name", "birth_date", "thumbnail_path", "is_hidden", "is_favorite", "color", "updated_at",
)
key_order(PeopleResponseDto, "people", "has_next_page", "total", "hidden")
key_order(
    AssetFaceResponseDto,
    "id", "image_height", "image_width", "bounding_box_x1", "bounding_box_x2",
    "bounding_box_y1", "bounding_box_y2", "source_type", "person",
)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def person_dto(row: Mapping[str, Any]) -> PersonResponseDto:
    """Immich's ``mapPerson``; a row aggregated to JSON keeps PostgreSQL's date text."""
    updated = row["updatedAt"]
    updated_at: datetime = updated if isinstance(updated, datetime) else SqlJsonDatetime.parse(str(updated))
    return PersonResponseDto(
        id=UUID(str(row["id"])),
        name=row["name"],
        birth_date=_date(row["birthDate"]),
        thumbnail_path=row["thumbnailPath"],
        is_hidden=row["isHidden"],
        is_favorite=row["isFavorite"],
        color=row["color"] if row["color"] is not None else OMIT,
        updated_at=updated_at,
    )


def face_dto(row: Mapping[str, Any], caller_id: UUID) -> AssetFaceResponseDto:
    """Immich's ``mapFaces``: the person only when the caller owns it."""
    person = row["person"]
    owned = person is not None and str(person["ownerId"]) == str(caller_id)
    return AssetFaceResponseDto(
        id=row["id"],
        image_height=row["imageHeight"],
        image_width=row["imageWidth"],
        bounding_box_x1=row["boundingBoxX1"],
        bounding_box_x2=row["boundingBoxX2"],
        bounding_box_y1=row["boundingBoxY1"],
        bounding_box_y2=row["boundingBoxY2"],
        source_type=row["sourceType"],
        person=person_dto(person) if owned else None,
    )
