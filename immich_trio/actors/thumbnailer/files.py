"""Atomic output files: a reader (the HTTP server) sees the old file or the new one, never a
half-written one, and a failed batch leaves none of its files behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .options import ThumbnailError

__all__ = ["write_all", "write_atomic"]


def write_all(outputs: Iterable[tuple[Path, bytes]]) -> None:
    """Write every (path, data) atomically; on failure remove those already written."""
    written: list[Path] = []
    try:
        for path, data in outputs:
            write_atomic(path, data)
            written.append(path)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise ThumbnailError(
            f"cannot write {exc.filename or 'thumbnail'}: {exc.strerror or exc}"
        ) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
