"""DTOs of the tag "Trash"."""

from __future__ import annotations

from uuid import UUID

import attrs


@attrs.frozen(kw_only=True)
class BulkIdsDto:
    ids: list[UUID]


@attrs.frozen(kw_only=True)
class TrashResponseDto:
    count: int
