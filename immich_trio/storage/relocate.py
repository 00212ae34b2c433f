"""Moving an original to another place in the media folder without ever having two copies
that look finished or none: a rename on one file system, else copy (temp file + rename),
verify the size, keep the times, and remove the source. Blocking: call in a worker thread."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from immich_trio.storage.files import copy_atomic, move_into_place, remove_quietly


class RelocateFailed(Exception):
    """The file could not be moved; the message says why and the source is untouched."""


def relocate(src: Path, dst: Path, *, expected_size: int | None = None) -> None:
    """Move ``src`` to ``dst``, which must not exist (a name taken meanwhile is an error,
    never an overwrite)."""
    if dst.exists():
        raise RelocateFailed(f"{dst} exists already")
    try:
        move_into_place(src, dst)
        return
    except FileNotFoundError as exc:
        raise RelocateFailed(f"{src} does not exist") from exc
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise RelocateFailed(f"cannot rename {src}: {exc.strerror}") from exc
    copy_atomic(src, dst)
    size = expected_size if expected_size is not None else src.stat().st_size
    copied = dst.stat().st_size
    if copied != size:
        remove_quietly(dst)
        raise RelocateFailed(f"file size mismatch: {copied} != {size}")
    shutil.copystat(src, dst)
    os.unlink(src)


def remove_empty_dirs(root: Path) -> None:
    """Remove the empty folders under ``root`` (not ``root`` itself), deepest first."""
    if not root.is_dir():
        return
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: entry[0].count(os.sep), reverse=True):
        if Path(folder) != root:
            try:
                os.rmdir(folder)
            except OSError:
                continue  # not empty
