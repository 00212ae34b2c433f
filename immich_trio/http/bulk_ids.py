"""Immich's per-id outcome when ids are added to or removed from a set (an album, a tag, a
memory, a shared link), and its answers.

Each requested id, in request order, gets ``None`` (done) or the reason it was not: an id already
in the set, or asked for twice, is a ``duplicate``; one the caller may not touch is
``no_permission``; one to remove that is not there is ``not_found``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Set
from typing import Any, Literal
from uuid import UUID

from immich_trio.http.access import check_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import BulkIdResponseDto

Refusal = Literal["duplicate", "no_permission", "not_found"]
Outcome = tuple[UUID, Refusal | None]


def additions(
    ids: Iterable[UUID], present: Set[UUID], allowed: Set[UUID]
) -> tuple[list[Outcome], list[UUID]]:
    """The outcome of each id, and the ids to add."""
    seen = set(present)
    outcomes: list[Outcome] = []
    added: list[UUID] = []
    for asset_id in ids:
        if asset_id in seen:
            outcomes.append((asset_id, "duplicate"))
        elif asset_id not in allowed:
            outcomes.append((asset_id, "no_permission"))
        else:
            seen.add(asset_id)
            added.append(asset_id)
            outcomes.append((asset_id, None))
    return outcomes, added


def removals(
    ids: Iterable[UUID], present: Set[UUID], allowed: Set[UUID]
) -> tuple[list[Outcome], list[UUID]]:
    """The outcome of each id, and the ids to remove (an id asked twice is not found the second time)."""
    left = set(present)
    outcomes: list[Outcome] = []
    removed: list[UUID] = []
    for asset_id in ids:
        if asset_id not in left:
            outcomes.append((asset_id, "not_found"))
        elif asset_id not in allowed:
            outcomes.append((asset_id, "no_permission"))
        else:
            left.discard(asset_id)
            removed.append(asset_id)
            outcomes.append((asset_id, None))
    return outcomes, removed


def responses(outcomes: Iterable[Outcome]) -> list[BulkIdResponseDto]:
    """Immich's per-id answers for ``outcomes``."""
    return [
        BulkIdResponseDto(id=asset_id, success=True)
        if error is None
        else BulkIdResponseDto(id=asset_id, success=False, error=error)
        for asset_id, error in outcomes
    ]


async def removable(
    ctx: Ctx, conn: Any, owner_permission: str, set_id: UUID, present: Collection[UUID]
) -> set[UUID]:
    """Which of the ``present`` assets the caller may take out of the set: all of them for its
    owner (``owner_permission`` on the set), else those the caller may share, as Immich rules
    for albums, tags and memories."""
    if await check_access(ctx, conn, owner_permission, [set_id]):
        return set(present)
    return await check_access(ctx, conn, "asset.share", present)
