"""Notifications (tag "Notifications"): ``NotificationDto`` from a ``notification`` row.

Immich's mapNotification leaves ``description``, ``data`` and ``readAt`` out when they are
null, and passes ``data`` through as stored: Immich's own album notifications store a JSON
*string* (``"{\\"albumId\\":...}"``), which it answers as that string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from immich_trio.http.dto import OMIT, key_order
from immich_trio.http.dto.generated import NotificationDto, TemplateResponseDto

key_order(TemplateResponseDto, "name", "html")  # Immich answers ``{ name, html }``
key_order(
    NotificationDto, "id", "created_at", "level", "type", "title", "description", "data", "read_at"
)


def notification_dto(row: Mapping[str, Any]) -> NotificationDto:
    def present(value: Any) -> Any:
        return OMIT if value is None else value

    return NotificationDto(
        id=row["id"],
        created_at=row["createdAt"],
        level=row["level"],
        type=row["type"],
        title=row["title"],
        description=present(row["description"]),
        data=present(row["data"]),
        read_at=present(row["readAt"]),
    )
