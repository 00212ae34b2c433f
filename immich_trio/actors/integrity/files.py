"""File-system side of the integrity checks, blocking code run in worker threads.

Everything streams: the walk yields batches of paths, hashing reads fixed-size chunks, so a
scan over any number of files keeps memory bounded by one batch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from immich_trio.storage.layout import ENCODED_VIDEO, LIBRARY, THUMBS, UPLOAD

CHUNK = 1 << 20
ASSET_FOLDERS = (ENCODED_VIDEO, LIBRARY, UPLOAD)
"""Folders whose files belong to assets (originals, encoded videos), as Immich walks them."""
FILE_FOLDERS = (THUMBS,)
"""Folders whose files belong to ``asset_file`` rows or person thumbnails."""


def walk(roots: Iterable[Path]) -> Iterator[str]:
    """Every regular file under ``roots``, hidden files and folders left out (Immich's walk)."""
    stack = [str(root) for root in roots if root.is_dir()]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry.path


def batches(paths: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for path in paths:
        batch.append(path)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def next_batch(it: Iterator[list[str]]) -> list[str] | None:
    """One step of a batch iterator (for ``trio.to_thread.run_sync``)."""
    return next(it, None)


def exists(paths: Iterable[str]) -> list[bool]:
    return [os.path.exists(path) for path in paths]


def sha1(path: str) -> bytes | None:
    """SHA-1 of the file's bytes, streamed; None when the file is gone (a missing-file matter)."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.digest()


def sha1_all(paths: Iterable[str]) -> list[bytes | None]:
    """``sha1`` of each path, in one thread hop for a whole page."""
    return [sha1(path) for path in paths]


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
