"""The disk walk of a library's import paths, in bounded memory, and which files it takes.

As Immich's crawl (fast-glob over ``<path>/**/*.{supported extensions}``): files only, hidden
entries skipped, symbolic links to folders not followed (so a symlink loop ends nothing and
costs nothing), extensions case-insensitive, the library's exclusion patterns honoured. The walk
keeps one open ``os.scandir`` per folder level and hands out at most ``batch`` paths at a time:
a tree of any size never sits in memory. A name that is not UTF-8 cannot be stored (PostgreSQL
text), so that file is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources

from wcmatch import glob

log = logging.getLogger(__name__)

_FLAGS = glob.GLOBSTAR | glob.IGNORECASE | glob.DOTGLOB | glob.BRACE | glob.EXTGLOB


@cache
def media_extensions() -> dict[str, str]:
    """Immich's supported extensions (lower case, with the dot) → ``IMAGE`` or ``VIDEO``."""
    text = resources.files("immich_trio.http").joinpath("media-types.json").read_text("utf-8")
    types = json.loads(text)["GET /api/server/media-types"]
    kinds = {ext: "IMAGE" for ext in types["image"]}
    kinds.update({ext: "VIDEO" for ext in types["video"]})
    return kinds


def media_type(path: str) -> str | None:
    """``IMAGE``/``VIDEO`` for a supported file name, None for any other."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return media_extensions().get(name[dot:].lower())


_SPECIAL = frozenset("[]{}()!+|\\")


def required_text(pattern: str) -> str | None:
    """The longest piece of plain text every path the glob matches must contain (lower case),
    or None when the pattern has none that is certain (classes, braces, extglobs)."""
    pieces: list[str] = []
    for segment in pattern.split("/"):
        if any(char in _SPECIAL for char in segment):
            continue
        pieces.extend(piece for piece in segment.replace("?", "*").split("*") if piece)
    return max(pieces, key=len).lower() if pieces else None


class Exclusions:
    """The library's exclusion patterns (globs such as ``**/@eaDir/**``, ``**/._*``), matched
    as picomatch does (globstar, braces, extglobs), case-insensitively as Immich's crawl.

    A glob's regular expression costs ~10 µs a path; most patterns name a folder or a prefix,
    so a path without that text is let through at once (``required_text``).
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        valid = [p for p in patterns if p]
        self._files = [(required_text(p), glob.compile(p, flags=_FLAGS)) for p in valid]
        # ``P/**`` excludes everything below a folder matching ``P``: such folders are not entered.
        folders = [p[: -len("/**")] for p in valid if p.endswith("/**") and len(p) > 3]
        self._folders = [(required_text(p), glob.compile(p, flags=_FLAGS)) for p in folders]

    @staticmethod
    def _any(matchers: list[tuple[str | None, glob.WcMatcher[str]]], path: str) -> bool:
        lower = path.lower()
        for text, matcher in matchers:
            if (text is None or text in lower) and matcher.match(path):
                return True
        return False

    @property
    def has_file_patterns(self) -> bool:
        return bool(self._files)

    def excludes(self, path: str) -> bool:
        return bool(self._files) and self._any(self._files, path)

    def prunes(self, folder: str) -> bool:
        return bool(self._folders) and self._any(self._folders, folder)


def takes(path: str, exclusions: Exclusions) -> bool:
    """Whether a file event's path is one a scan would import (Immich's watcher matcher)."""
    if any(part.startswith(".") for part in path.split("/")):
        return False
    return media_type(path) is not None and not exclusions.excludes(path)


def _storable(name: str, folder: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        log.warning("library scan: skipped a name that is not UTF-8 in %s: %r", folder, name)
        return False
    return True


def walk_files(roots: Sequence[str], exclusions: Exclusions) -> Iterator[str]:
    """Every file to import under ``roots``, depth first, one open folder per level.

    The loop runs once per entry of the whole tree, so it is kept lean: the folder's prefix is
    built once, a name's kind is one dictionary look-up, and the exclusion globs are consulted
    only when the library has some."""
    kinds = media_extensions()
    excludes = exclusions.excludes if exclusions.has_file_patterns else None
    for root in roots:
        stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = []
        try:
            stack.append((root.rstrip("/") + "/", os.scandir(root)))
        except OSError as exc:
            log.warning("library scan: cannot read %s: %s", root, exc)
            continue
        while stack:
            prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                entries.close()  # type: ignore[attr-defined]
                stack.pop()
                continue
            name = entry.name
            if name[0] == "." or not (name.isascii() or _storable(name, prefix[:-1] or "/")):
                continue
            path = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if exclusions.prunes(path):
                        continue
                    try:
                        stack.append((path + "/", os.scandir(path)))
                    except OSError as exc:  # unreadable or vanished: the rest goes on
                        log.warning("library scan: cannot read %s: %s", path, exc)
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            dot = name.rfind(".")
            if dot > 0 and name[dot:].lower() in kinds and (excludes is None or not excludes(path)):
                yield path


def batches(paths: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for path in paths:
        batch.append(path)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
