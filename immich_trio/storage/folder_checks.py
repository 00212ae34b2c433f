"""Immich's folder checks at start: every media folder holds a ``.immich`` marker that the
server can read and overwrite.

The first start on a folder writes the marker and records it in ``system-flags``
(``mountChecks.<folder> = true``, ``sql/system_metadata.py``); every later start requires it.
A folder whose volume was not mounted, was mounted read-only, or lost its files then stops the
server with Immich's message (``Failed to read "<UPLOAD_LOCATION>/upload/.immich - ..."``)
instead of writing new files into an empty mount point. ``IMMICH_IGNORE_MOUNT_CHECK_ERRORS``
turns the failure into a logged error, as in Immich. Blocking file calls: run in a thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from immich_trio.storage.layout import BACKUPS, ENCODED_VIDEO, LIBRARY, PROFILE, THUMBS, UPLOAD

# Immich's StorageFolder order.
FOLDERS = (ENCODED_VIDEO, LIBRARY, UPLOAD, PROFILE, THUMBS, BACKUPS)
MARKER = ".immich"
DOCS = "Please see https://immich.app/docs/administration/system-integrity#folder-checks for more information."


class FolderCheckFailed(Exception):
    """A media folder failed its check: the message is Immich's."""


def _external(folder: str) -> str:
    return f"<UPLOAD_LOCATION>/{folder}/{MARKER}"


def _stamp() -> bytes:
    return str(int(time.time() * 1000)).encode()


def _create(media: Path, folder: str) -> None:
    path = media / folder / MARKER
    try:
        (media / folder).mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as out:
            out.write(_stamp())
    except FileExistsError:
        return  # Immich: "Found existing mount file, skipping creation"
    except OSError as exc:
        raise FolderCheckFailed(f'Failed to create "{_external(folder)} - {DOCS}"') from exc


def _verify(media: Path, folder: str) -> None:
    path = media / folder / MARKER
    try:
        path.read_bytes()
    except OSError as exc:
        raise FolderCheckFailed(f'Failed to read "{_external(folder)} - {DOCS}"') from exc
    try:
        with open(path, "wb") as out:
            out.write(_stamp())
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise FolderCheckFailed(f'Failed to write "{_external(folder)} - {DOCS}"') from exc


def check_folders(media: Path, checked: Mapping[str, bool]) -> dict[str, bool]:
    """Create the markers of folders never checked, then read and overwrite every marker;
    the ``mountChecks`` to store (``checked`` plus the folders now checked).
    Raises ``FolderCheckFailed`` at the first folder that fails."""
    now_checked = dict(checked)
    for folder in FOLDERS:
        if not checked.get(folder):
            _create(media, folder)
        _verify(media, folder)
        now_checked[folder] = True
    return now_checked
