"""Library watching (system config ``library.watch.enabled``): file events of every library's
import paths, debounced on the Trio clock, become the scan's own jobs.

Immich waits for a file to be still for 5 s (chokidar's ``awaitWriteFinish``) before it queues
it; here a library's events gather until ``DEBOUNCE`` seconds pass with none, then go out in one
transaction (``sql.library_scan.queue_watched_changes``). Added and changed files count only if
a scan would take them (``walk.takes``); removed ones always. The events come from ``watchfiles``
(its anyio API runs on Trio); tests hand in their own source. The set of libraries is read again
every ``RELOAD_INTERVAL`` seconds and on every saved config, and the watchers restart only when
it changed. A watcher whose paths fail (a vanished mount) logs and tries again after ``RETRY``.
As in Immich, one process of those sharing the database watches: the one holding the watch lock
(``sql.libraries.try_watch_lock``, on a connection kept while it leads); the others try again at
each reload.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import trio
import watchfiles

from immich_trio import sysconfig
from immich_trio.actors.library_scanner.walk import Exclusions, takes
from immich_trio.sql import libraries as libraries_q
from immich_trio.sql import library_scan as scan_q
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "library-watch"
DEBOUNCE = 5.0
RELOAD_INTERVAL = 60.0
RETRY = 30.0
ADD, CHANGE, UNLINK = "add", "change", "unlink"

Events = Iterable[tuple[str, str]]
"""One batch of ``(kind, absolute path)``, kind ``add``, ``change`` or ``unlink``."""
EventSource = Callable[[Sequence[str]], AsyncIterator[Events]]
Flush = Callable[[dict[str, Any], list[str], list[str]], Awaitable[None]]
Wanted = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]

_KINDS = {watchfiles.Change.added: ADD, watchfiles.Change.modified: CHANGE, watchfiles.Change.deleted: UNLINK}


async def watchfiles_source(roots: Sequence[str]) -> AsyncIterator[Events]:
    """File events from the operating system (inotify), through ``watchfiles``."""
    async for changes in watchfiles.awatch(*roots, watch_filter=None, debounce=200, recursive=True):
        yield [(_KINDS[change], path) for change, path in changes]


async def watch_library(
    library: dict[str, Any], *, source: EventSource, flush: Flush, debounce: float = DEBOUNCE
) -> None:
    """Watch one library until cancelled: events gather until ``debounce`` quiet seconds."""
    roots = list(library["importPaths"])
    exclusions = Exclusions(library["exclusionPatterns"])
    pending: dict[str, str] = {}
    send, receive = trio.open_memory_channel[Events](0)

    async def pump() -> None:
        with send:
            async for batch in source(roots):
                await send.send(batch)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump)
        with receive:
            while True:
                deadline = trio.current_time() + debounce if pending else math.inf
                with trio.move_on_at(deadline):
                    try:
                        batch = await receive.receive()
                    except trio.EndOfChannel:
                        break
                    for kind, path in batch:
                        if kind == UNLINK or takes(path, exclusions):
                            pending[path] = kind
                    continue
                await _flush(library, pending, flush)
                pending = {}
        if pending:
            await _flush(library, pending, flush)


async def _flush(library: dict[str, Any], pending: dict[str, str], flush: Flush) -> None:
    changed = sorted(p for p, kind in pending.items() if kind != UNLINK)
    removed = sorted(p for p, kind in pending.items() if kind == UNLINK)
    log.debug("library %s: %d changed, %d removed", library["id"], len(changed), len(removed))
    await flush(library, changed, removed)


async def queue_changes(pool: Pool, library: dict[str, Any], changed: list[str], removed: list[str]) -> None:
    async with pool.connection() as conn, conn.transaction():
        if await libraries_q.get(conn, library["id"]) is None:
            return  # deleted meanwhile
        await scan_q.queue_watched_changes(conn, library, changed=changed, removed=removed)


class LibraryWatch:
    """A task of the ``microservices`` worker: one watcher per library while watching is on."""

    def __init__(
        self,
        pool: Pool,
        *,
        source: EventSource = watchfiles_source,
        debounce: float = DEBOUNCE,
        reload_interval: float = RELOAD_INTERVAL,
        flush: Flush | None = None,
    ) -> None:
        self._pool = pool
        self._source = source
        self._debounce = debounce
        self._reload_interval = reload_interval
        self._flush = flush or partial(queue_changes, pool)
        self._wake = trio.Event()
        self.watching: Wanted = {}
        self.leading = False

    def _on_config(self, config: sysconfig.Config) -> None:
        self._wake.set()

    async def _wanted(self, nursery: trio.Nursery) -> tuple[Wanted, dict[str, dict[str, Any]]]:
        async with self._pool.connection() as conn:
            config = await sysconfig.load(conn)
            if not ((config.get("library") or {}).get("watch") or {}).get("enabled"):
                return {}, {}
            rows = [row for row in await libraries_q.list_all(conn) if row["importPaths"]]
        if not self.leading:
            await nursery.start(self._lead)
            if not self.leading:
                return {}, {}
        by_id = {str(row["id"]): row for row in rows}
        wanted = {i: (tuple(r["importPaths"]), tuple(r["exclusionPatterns"])) for i, r in by_id.items()}
        return wanted, by_id

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        unsubscribe = sysconfig.subscribe(self._on_config)
        try:
            async with trio.open_nursery() as nursery:
                scope: trio.CancelScope | None = None
                started = False
                while True:
                    self._wake = trio.Event()
                    wanted, rows = await self._wanted(nursery)
                    if wanted != self.watching or scope is None:
                        if scope is not None:
                            scope.cancel()
                        scope = await nursery.start(self._watch_all, list(rows.values()))
                        self.watching = wanted
                    if not started:
                        task_status.started()
                        started = True
                    with trio.move_on_after(self._reload_interval):
                        await self._wake.wait()
        finally:
            unsubscribe()

    async def _lead(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Take the watch lock if free and keep its connection until cancelled; else return."""
        async with self._pool.connection() as conn:
            if not await libraries_q.try_watch_lock(conn):
                task_status.started()
                return
            self.leading = True
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self.leading = False
                with trio.CancelScope(shield=True):  # the pooled connection goes back unlocked
                    await libraries_q.release_watch_lock(conn)

    async def _watch_all(
        self, rows: list[dict[str, Any]], *, task_status: trio.TaskStatus[trio.CancelScope]
    ) -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                for row in rows:
                    nursery.start_soon(self._keep_watching, row)
                task_status.started(scope)

    async def _keep_watching(self, library: dict[str, Any]) -> None:
        while True:
            try:
                await watch_library(library, source=self._source, flush=self._flush, debounce=self._debounce)
            except* (OSError, RuntimeError) as group:
                log.warning("library %s: watching stopped: %s", library["id"], group.exceptions[0])
            await trio.sleep(RETRY)
