"""Journaled file moves inside the media folder, shared by the storage template migration and
the file migration: each move is recorded in ``move_history`` before the file moves and
forgotten in the statement that saves the new path, so a run killed anywhere is finished or
undone by the next one from what is on disk; a file is never lost nor left in two places, and
its row points at the one that exists."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import trio
from psycopg import AsyncConnection

from immich_trio.sql import move_history as q
from immich_trio.storage.relocate import RelocateFailed, relocate

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]


def _both_exist(old: str, new: str) -> tuple[bool, bool]:
    return os.path.lexists(old), os.path.lexists(new)


class JournaledMoves:
    """The moves of one actor (``owner`` names it in log lines). Blocking file work runs in
    worker threads; the caller serialises moves of one entity (a job at a time per entity)."""

    def __init__(self, owner: str) -> None:
        self._owner = owner

    async def move(
        self, conn: Conn, entity_id: UUID | str, path_type: str, old: str, new: str, *,
        size: int | None = None, checksum: bytes | None = None,
    ) -> bool:  # fmt: skip
        """``old`` to ``new``, recorded; True when the file is at ``new`` and its row says so.
        A file that cannot be moved stays where it is, with a log line (as Immich)."""
        try:
            move_id = await q.create_move(conn, entity_id, path_type, old, new)
        except psycopg.errors.UniqueViolation:
            log.warning("%s: %s is the target of another move; %s stays", self._owner, new, old)
            return False
        try:
            await trio.to_thread.run_sync(
                lambda: relocate(Path(old), Path(new), expected_size=size, checksum=checksum)
            )
        except (RelocateFailed, OSError) as exc:
            log.warning("%s: unable to complete move %s => %s: %s", self._owner, old, new, exc)
            await q.delete_move(conn, move_id)
            return False
        await q.finish_move(conn, move_id, path_type, entity_id, new)
        return True

    async def resume(self, conn: Conn, entity_id: UUID | str, path_types: Iterable[str]) -> None:
        """Finish or undo the moves of ``entity_id``'s files that an earlier run left half done."""
        for move in await q.pending_moves(conn, entity_id, path_types):
            path_type = move["pathType"]
            old, new = move["oldPath"], move["newPath"]
            at_old, at_new = await trio.to_thread.run_sync(_both_exist, old, new)
            if at_new:
                log.info("%s: finishing an incomplete move %s => %s", self._owner, old, new)
                if at_old:  # an interrupted copy across file systems: the copy is whole
                    await trio.to_thread.run_sync(os.unlink, old)
                await q.finish_move(conn, move["id"], path_type, entity_id, new)
            elif at_old:
                await q.delete_move(conn, move["id"])  # the file never left; start again
            else:
                log.warning("%s: unable to complete move %s => %s: no file at either", self._owner, old, new)
                await q.delete_move(conn, move["id"])
