"""Immich's per-id outcome when ids are added to or removed from a set (an album, a shared link).

Each requested id, in request order, gets ``None`` (done) or the reason it was not: an id already
in the set, or asked for twice, is a ``duplicate``; one the caller may not touch is
``no_permission``; one to remove that is not there is ``not_found``.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Literal
from uuid import UUID

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
