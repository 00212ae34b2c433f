"""Answers that stay true while nothing commits: computed once, reused for the same snapshot.

``pg_current_snapshot()`` names the set of committed transactions a statement sees
(``xmin:xmax:in-progress``); two statements with the same snapshot text see the same data, in
every table. An answer computed in one statement together with its snapshot (see
``with_snapshot``) can therefore be answered again, unchanged, to a request whose own snapshot
is the same: any commit anywhere in between (an upload, a rename, a job's progress) changes the
snapshot and the answer is computed afresh. Nothing is invalidated by hand, so no write path
can forget to. Used for ``GET /albums``, whose figures aggregate every asset of every album
and which Immich's web app asks again on each visit of the albums page and the album picker.

Entries are few and bounded (least recently used first out): an answer is kept per key, the
newest one only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import attrs
from psycopg import AsyncConnection

SNAPSHOT = "SELECT pg_current_snapshot()::text AS snapshot"
MAX_ENTRIES = 64
MAX_BYTES = 64 * 1024 * 1024


def with_snapshot(query: str) -> str:
    """``query`` (one statement returning one row) with the statement's own snapshot as the
    column ``snapshot``: the answer and its snapshot come from the same view of the data."""
    return f"SELECT ({SNAPSHOT}) AS snapshot, answer.* FROM ({query}) AS answer"


async def current_snapshot(conn: AsyncConnection[Any]) -> str:
    """The snapshot a statement run now sees (on an autocommit connection: the latest)."""
    cur = await conn.execute(SNAPSHOT, prepare=True)
    row = await cur.fetchone()
    assert row is not None
    return str(row["snapshot"])


@attrs.define
class SnapshotCache:
    """Answers by key, each valid for the one snapshot it was computed in."""

    max_entries: int = MAX_ENTRIES
    max_bytes: int = MAX_BYTES
    _entries: OrderedDict[Hashable, tuple[str, bytes]] = attrs.field(factory=OrderedDict)
    _bytes: int = 0

    def get(self, key: Hashable, snapshot: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != snapshot:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, snapshot: str, answer: bytes) -> None:
        if len(answer) > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = (snapshot, answer)
        self._bytes += len(answer)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])
