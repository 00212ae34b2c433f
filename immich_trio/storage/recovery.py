"""Crash recovery of uploads: settle every staging file left in ``<media>/upload/.tmp``.

The rule is deterministic: the asset row is committed before a staging file is renamed into
place, so for ``<assetId>.part`` (and ``<assetId>.sidecar.part``)
- a row exists → the commit happened and the client may have been told so: roll forward,
  rename the file to the row's ``originalPath`` (or sidecar path);
- no row → it was never acknowledged: roll back, delete the file.
A staging file still locked by a writer (another process sharing the media folder) is left
alone. Run before HTTP starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from uuid import UUID

import attrs
import trio

from immich_trio.storage import files

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class Targets:
    """Where a committed asset's staging files belong."""

    original: Path
    sidecar: Path | None = None


@attrs.frozen(kw_only=True)
class RecoveryReport:
    rolled_forward: tuple[Path, ...] = ()  # final paths the staging files were moved to
    rolled_back: tuple[Path, ...] = ()  # staging files deleted
    in_use: tuple[Path, ...] = ()  # staging files locked by a live writer


Lookup = Callable[[Sequence[UUID]], Awaitable[Mapping[UUID, Targets]]]


def _staging_files(media: Path) -> list[tuple[Path, UUID, bool]]:
    tmp = files.upload_tmp_dir(media)
    found: list[tuple[Path, UUID, bool]] = []
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return found
    for entry in entries:
        parsed = files.parse_staging_name(entry.name)
        if parsed is None or not entry.is_file(follow_symlinks=False):
            continue
        found.append((Path(entry.path), *parsed))
    return found


def _settle(path: Path, target: Path | None) -> tuple[str, Path]:
    """Move ``path`` to ``target`` (roll forward) or delete it (None: roll back)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return "gone", path
    try:
        if not files.try_lock(fd):
            return "in_use", path
        if target is None:
            files.remove_quietly(path)
            files.fsync_dir(path.parent)
            return "back", path
        if target.exists():
            # Placed already by someone else: the staging copy is redundant.
            files.remove_quietly(path)
            return "back", path
        files.move_into_place(path, target)
        return "forward", target
    finally:
        os.close(fd)


async def recover_uploads(media: Path, lookup: Lookup) -> RecoveryReport:
    """Apply the rule to every staging file under ``media``; report what was done."""
    staged = await trio.to_thread.run_sync(_staging_files, media)
    if not staged:
        return RecoveryReport()
    targets = await lookup(sorted({asset_id for _, asset_id, _ in staged}))
    forward: list[Path] = []
    back: list[Path] = []
    in_use: list[Path] = []
    for path, asset_id, is_sidecar in staged:
        found = targets.get(asset_id)
        target = None if found is None else (found.sidecar if is_sidecar else found.original)
        outcome, where = await trio.to_thread.run_sync(_settle, path, target)
        if outcome == "forward":
            log.warning("upload recovery: %s committed but not in place; moved to %s", path.name, where)
            forward.append(where)
        elif outcome == "back":
            back.append(where)
        elif outcome == "in_use":
            in_use.append(where)
    return RecoveryReport(rolled_forward=tuple(forward), rolled_back=tuple(back), in_use=tuple(in_use))
