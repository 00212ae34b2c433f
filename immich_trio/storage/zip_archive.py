"""A ZIP of files streamed as it is made: names as Immich gives them, bounded memory.

The archive is built by zipstream-ng (stored entries, no compression, as Immich's
``archiver('zip', { store: true })``; ZIP64 switches on by itself past 4 GiB or 65535 files).
zipstream-ng knows the final size before the first byte, reads each file in 64 KiB pieces
and uses data descriptors, so nothing is read twice and nothing is held whole. Its generator
is synchronous: it runs in a worker thread, one batch of at most ``BATCH_SIZE`` bytes at a
time, pulled as the client takes them. Cancelling the consumer closes the generator (and the
file it had open); nothing is written anywhere.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence

import attrs
import trio
from zipstream import ZIP_STORED, ZipStream

log = logging.getLogger(__name__)

BATCH_SIZE = 1024 * 1024
_MAX_NAME_BYTES = 255
_ILLEGAL = re.compile(r'[/?<>\\:*|"\x00-\x1f\x80-\x9f]')
_RESERVED = re.compile(r"^\.+$")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_WINDOWS_TRAILING = re.compile(r"[. ]+$")


def sanitize_file_name(name: str) -> str:
    """npm ``sanitize-filename`` with an empty replacement, cut to 255 UTF-8 bytes."""
    out = _ILLEGAL.sub("", name)
    out = _RESERVED.sub("", out)
    out = _WINDOWS_RESERVED.sub("", out)
    out = _WINDOWS_TRAILING.sub("", out)
    encoded = out.encode("utf-8")
    if len(encoded) > _MAX_NAME_BYTES:
        out = encoded[:_MAX_NAME_BYTES].decode("utf-8", errors="ignore")
    return out


def _split_ext(name: str) -> tuple[str, str]:
    """Node's ``path.parse``: the extension starts at the last dot unless that dot leads the name."""
    dot = name.rfind(".")
    return (name, "") if dot <= 0 else (name[:dot], name[dot:])


def unique_names(original_names: Sequence[str]) -> list[str]:
    """Immich's archive names: sanitized (or ``unnamed``); the n-th repeat becomes ``stem+n.ext``."""
    seen: dict[str, int] = {}
    out = []
    for original in original_names:
        name = sanitize_file_name(original) or "unnamed"
        count = seen.get(name, 0)
        seen[name] = count + 1
        if count:
            stem, ext = _split_ext(name)
            name = f"{stem}+{count}{ext}"
        out.append(name)
    return out


@attrs.frozen(kw_only=True)
class ArchiveEntry:
    path: str
    name: str


@attrs.frozen(kw_only=True)
class ZipArchive:
    """The archive's exact length and its bytes, produced on demand."""

    size: int
    _zip: ZipStream

    async def chunks(self) -> AsyncIterator[bytes]:
        pieces = iter(self._zip)
        try:
            while True:
                batch = await trio.to_thread.run_sync(_next_batch, pieces)
                if not batch:
                    return
                yield batch
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()


def _next_batch(pieces: Iterator[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    for piece in pieces:
        parts.append(piece)
        size += len(piece)
        if size >= BATCH_SIZE:
            break
    return b"".join(parts)


def _build(entries: Sequence[ArchiveEntry]) -> ZipArchive:
    zip_stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    for entry in entries:
        path = entry.path
        try:
            path = os.path.realpath(path, strict=True)
        except OSError:
            log.warning("Unable to resolve realpath %s", entry.path)
        try:
            zip_stream.add_path(path, entry.name)
        except OSError:
            log.warning("Left out of the archive, unreadable: %s", entry.path)
    return ZipArchive(size=len(zip_stream), zip=zip_stream)


async def open_archive(entries: Sequence[ArchiveEntry]) -> ZipArchive:
    """Stat every file (in a thread) and plan the archive; unreadable files are left out."""
    return await trio.to_thread.run_sync(_build, entries)
