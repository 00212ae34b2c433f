"""Field-by-field comparison of our JSON answer with Immich's recorded one."""

from __future__ import annotations

from typing import Any


def differences(ours: Any, theirs: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where the two differ, as (path, ours, Immich's); lists compared by position."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[tuple[str, Any, Any]] = []
        for key in sorted(set(ours) | set(theirs)):
            mine = ours.get(key, "<absent>")
            other = theirs.get(key, "<absent>")
            found.extend(differences(mine, other, f"{path}.{key}"))
        return found
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [(f"{path}[len]", len(ours), len(theirs))]
        found = []
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            found.extend(differences(a, b, f"{path}[{i}]"))
        return found
    return [] if ours == theirs else [(path, ours, theirs)]
