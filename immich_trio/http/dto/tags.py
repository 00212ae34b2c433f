"""Tags (tag "Tags"): ``TagResponseDto`` as Immich's ``mapTag`` builds it.

A tag row loaded directly has datetimes (written ``…Z``); a tag embedded in an asset response
was aggregated to JSON in SQL and keeps PostgreSQL's text form (behaviour.md §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from immich_trio.http.dto import OMIT, SqlJsonDatetime, key_order
from immich_trio.http.dto.generated import TagResponseDto

key_order(TagResponseDto, "id", "parent_id", "name", "value", "created_at", "updated_at", "color")


def _date(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else SqlJsonDatetime.parse(value)


def tag_dto(tag: Mapping[str, Any]) -> TagResponseDto:
    """The name is the last part of the value; ``parentId``/``color`` are left out when null."""
    parent_id = tag.get("parentId")
    color = tag.get("color")
    return TagResponseDto(
        id=UUID(str(tag["id"])),
        parent_id=str(parent_id) if parent_id is not None else OMIT,
        name=str(tag["value"]).split("/")[-1],
        value=tag["value"],
        created_at=_date(tag["createdAt"]),
        updated_at=_date(tag["updatedAt"]),
        color=color if color is not None else OMIT,
    )
