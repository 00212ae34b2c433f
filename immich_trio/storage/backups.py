"""The ``<media>/backups`` folder: which names are database backups, listing and removal.

Blocking helpers: call them in a worker thread."""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from immich_trio.storage.layout import BACKUPS

VALID_NAME = re.compile(r"^[\w\-.]+\.sql(?:\.gz)?$", re.ASCII)
"""Any backup Immich accepts to list, download, delete, upload or restore (``.sql`` or
``.sql.gz``, letters, digits, ``_``, ``-`` and ``.``): no path separators, so no traversal."""
UPLOADED_PREFIX = "uploaded-"
INVALID_NAME = "Invalid backup name!"


def is_valid_name(name: str) -> bool:
    return VALID_NAME.match(name) is not None


def folder(media: Path) -> Path:
    return media / BACKUPS


@attrs.frozen(kw_only=True)
class BackupFile:
    name: str
    size: int


def list_backups(media: Path) -> list[BackupFile]:
    """The backups, newest name first (Immich's order: reversed by name, uploaded ones after
    the routine ones)."""
    try:
        names = [n for n in os.listdir(folder(media)) if is_valid_name(n)]
    except FileNotFoundError:
        return []
    names.sort(key=lambda n: (not n.startswith(UPLOADED_PREFIX), n), reverse=True)
    found: list[BackupFile] = []
    for name in names:
        try:
            size = (folder(media) / name).stat().st_size
        except FileNotFoundError:
            continue
        found.append(BackupFile(name=name, size=size))
    return found


def delete_backups(media: Path, names: list[str]) -> None:
    """Remove the named backups (already validated); a missing one is not an error."""
    for name in names:
        (folder(media) / os.path.basename(name)).unlink(missing_ok=True)
