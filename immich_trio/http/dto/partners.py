"""Partners (tag "Partners"): ``PartnerResponseDto`` from a row of ``sql/partners.py``.

The row is the other user of the pair (its date in PostgreSQL's JSON text form, as Immich
aggregates it) with the pair's ``inTimeline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.dto import SqlJsonDatetime, key_order
from immich_trio.http.dto.generated import PartnerResponseDto
from immich_trio.http.dto.users import avatar_color

# Immich spreads mapUser and then adds inTimeline
key_order(
    PartnerResponseDto,
    "id", "email", "name", "profile_image_path", "avatar_color", "profile_changed_at", "in_timeline",
)


def partner_dto(row: Mapping[str, Any]) -> PartnerResponseDto:
    return PartnerResponseDto(
        id=UUID(str(row["id"])),
        email=row["email"],
        name=row["name"],
        profile_image_path=row["profileImagePath"],
        avatar_color=avatar_color(row["email"], row["avatarColor"]),
        profile_changed_at=SqlJsonDatetime.parse(row["profileChangedAt"]),
        in_timeline=row["inTimeline"],
    )
