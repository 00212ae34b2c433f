"""Moving an original to another place in the media folder without ever having two copies
that look finished or none: a rename on one file system, else copy (temp file + rename),
verify the size, keep the times, and remove the source. Blocking: call in a worker thread."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

from immich_trio.storage.files import copy_atomic, move_into_place, remove_quietly


class RelocateFailed(Exception):
    """The file could not be moved; the message says why and the source is untouched."""


HASH_CHUNK = 1 << 20


def sha1_of(path: Path) -> bytes:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.digest()


def relocate(src: Path, dst: Path, *, expected_size: int | None = None, checksum: bytes | None = None) -> None:
    """Move ``src`` to ``dst``, which must not exist (a name taken meanwhile is an error,
    never an overwrite). A copy across file systems is checked against ``expected_size``
    and, when given, the SHA-1 ``checksum`` (Immich's ``hashVerificationEnabled``)."""
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
    if checksum is not None and sha1_of(dst) != checksum:
        remove_quietly(dst)
        raise RelocateFailed("file checksum mismatch")
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
