"""This process's cache of resolved credentials (session token / API key hash -> what the
look-up found), kept exact by the credential events every write to those rows publishes.

Exactness rests on four rules:

- Every statement that writes ``"user"``, ``user_metadata``, ``session`` or ``api_key``
  publishes ``publish_credentials_changed`` for the user it touched, inside its transaction
  (``tests/sql/test_credential_writes.py`` fails on a write site that does not). Every
  process LISTENs and drops that user's entries when the change commits.
- In the publishing process, the user's entries are dropped at once and the user is held
  *pending* until its own notification comes back: a look-up that read the row before the
  commit cannot store what it read. A rolled-back change is never heard; its hold lapses
  after ``PENDING_HOLD`` seconds.
- A look-up stores its answer only if no change was heard since it started (``generation``);
  failed look-ups are never stored, so a new credential works at once and an invalid one is
  asked again each time.
- The cache answers only while its LISTEN connection is up; it is emptied when the
  connection drops (changes may be missed meanwhile). Entries also expire after ``TTL``
  seconds, a bound for edits made outside the server (an operator's SQL).
"""

from __future__ import annotations

import itertools
import logging
import os
import weakref
from collections import OrderedDict
from typing import Any, Generic, TypeVar
from uuid import UUID

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.sql.listen import listen_forever

log = logging.getLogger(__name__)

V = TypeVar("V")
CHANNEL = "immich_trio_credentials"
NOTIFY = "SELECT pg_notify(%s, %s)"
TASK_NAME = "credential-watch"
MAX_ENTRIES = 2048
"""Bound on entries (LRU): each holds a session or key row and a user row, a few kB."""
TTL = 60.0
PENDING_HOLD = 30.0

_live: weakref.WeakSet[CredentialCache[Any]] = weakref.WeakSet()
_sequence = itertools.count()
_PROCESS = f"{os.getpid():x}.{os.urandom(3).hex()}"


@attrs.frozen(kw_only=True)
class CredentialCacheStatistics:
    listening: bool
    entries: int
    hits: int
    misses: int
    invalidations: int


@attrs.define
class _Entry(Generic[V]):
    user_id: str
    value: V
    expires: float


class CredentialCache(Generic[V]):
    """Bounded LRU of credential look-ups; answers only while ``run`` is listening."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, ttl: float = TTL) -> None:
        self._entries: OrderedDict[bytes, _Entry[V]] = OrderedDict()
        self._pending: dict[str, dict[str, float]] = {}  # user -> {token: hold deadline}
        self._max = max_entries
        self._ttl = ttl
        self._listening = False
        self._generation = 0
        self._hits = self._misses = self._invalidations = 0
        _live.add(self)

    def statistics(self) -> CredentialCacheStatistics:
        return CredentialCacheStatistics(
            listening=self._listening, entries=len(self._entries), hits=self._hits,
            misses=self._misses, invalidations=self._invalidations,
        )

    @property
    def generation(self) -> int:
        """Read before a look-up; hand it to ``put`` so that a change heard meanwhile wins."""
        return self._generation

    def get(self, key: bytes) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            self._misses += 1
            return None
        if entry.expires <= trio.current_time() or not self._listening:
            del self._entries[key]
            self._misses += 1
            return None
        self._entries.move_to_end(key)
        self._hits += 1
        return entry.value

    def put(self, key: bytes, user_id: UUID | str, value: V, generation: int) -> None:
        user = str(user_id)
        if not self._listening or generation != self._generation or self._held(user):
            return
        self._entries[key] = _Entry(user, value, trio.current_time() + self._ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _held(self, user: str) -> bool:
        holds = self._pending.get(user)
        if not holds:
            return False
        now = trio.current_time()
        for token in [t for t, deadline in holds.items() if deadline <= now]:
            del holds[token]
        if not holds:
            del self._pending[user]
        return bool(holds)

    def forget_user(self, user_id: str) -> None:
        self._generation += 1
        self._invalidations += 1
        for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
            del self._entries[key]

    def hold(self, user_id: str, token: str) -> None:
        """A change to the user is about to commit here: drop it and store nothing until heard."""
        self._pending.setdefault(user_id, {})[token] = trio.current_time() + PENDING_HOLD
        self.forget_user(user_id)

    def heard(self, payload: str) -> None:
        user_id, _, token = payload.partition(" ")
        holds = self._pending.get(user_id)
        if holds is not None:
            holds.pop(token, None)
            if not holds:
                del self._pending[user_id]
        self.forget_user(user_id)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def run(self, url: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """LISTEN on ``CHANNEL`` until cancelled; the cache answers only meanwhile."""

        def on_listening(listening: bool) -> None:
            self.clear()
            self._listening = listening

        async def on_payload(payload: str) -> None:
            self.heard(payload)

        try:
            await listen_forever(
                url, CHANNEL, on_payload, name="credential watch", on_listening=on_listening,
                task_status=task_status,
            )
        finally:
            self._listening = False
            self.clear()


async def publish_credentials_changed(conn: AsyncConnection[Any], user_id: UUID | str) -> None:
    """The user's credentials or row changed: every process drops what it cached, on commit."""
    user = str(user_id)
    token = f"{_PROCESS}.{next(_sequence)}"
    for cache in list(_live):
        cache.hold(user, token)
    await conn.execute(NOTIFY, (CHANNEL, f"{user} {token}"))
