"""Immich's media folder layout (pipeline.md §4): where each kind of file lives under the media root.

Paths are absolute, as Immich stores them in the database.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from uuid import UUID

PROFILE = "profile"
UPLOAD = "upload"
THUMBS = "thumbs"
ENCODED_VIDEO = "encoded-video"
LIBRARY = "library"
BACKUPS = "backups"


def profile_dir(media: Path, user_id: UUID | str) -> Path:
    return media.resolve() / PROFILE / str(user_id)


def new_profile_image_path(media: Path, user_id: UUID | str, ext: str) -> Path:
    """``<media>/profile/<userId>/<random uuid><ext>`` for a freshly uploaded profile image."""
    return profile_dir(media, user_id) / f"{uuid.uuid4()}{ext}"


def is_within(media: Path, path: Path) -> bool:
    """Whether ``path`` is inside the media root (stored paths are trusted only there)."""
    try:
        path.resolve().relative_to(media.resolve())
    except ValueError:
        return False
    return True


def user_folders(media: Path, user_id: UUID | str, storage_label: str | None) -> list[Path]:
    """The folders of one user that go when the user is hard-deleted, as Immich removes
    them: the storage-template library folder (named by storage label, else id), uploads,
    profile images, thumbnails and encoded videos."""
    root = media.resolve()
    user = str(user_id)
    return [
        root / LIBRARY / (storage_label or user),
        root / UPLOAD / user,
        root / PROFILE / user,
        root / THUMBS / user,
        root / ENCODED_VIDEO / user,
    ]
