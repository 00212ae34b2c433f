"""The config watch: hears that a system config was saved (by any process) and hands the
reloaded config to this process's ``sysconfig.subscribe`` listeners."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import attrs
import psycopg
import trio

from immich_trio import sysconfig
from immich_trio.reactor import Backoff
from immich_trio.sql import events
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "config-watch"
LOAD_TIMEOUT = 10.0
RECONNECT_BACKOFF = Backoff(initial=0.5, factor=2.0, cap=30.0)


@attrs.frozen(kw_only=True)
class ConfigWatchStatistics:
    listening: bool
    changes: int
    reloads: int
    failed_reloads: int


class ConfigWatch:
    """Owns one LISTEN connection on ``events.CONFIG_CHANNEL``; a supervised task (``run``).

    Each notification (and each reconnect, since a change may have been missed meanwhile)
    reloads the config and calls the listeners. A failed reload is logged and counted, never
    fatal: the next change or reconnect tries again.
    """

    def __init__(self, pool: Pool, base: sysconfig.Config | None = None, *, url: str | None = None) -> None:
        self._pool = pool
        self._base = base
        self._url = url or pool.url
        self._listening = False
        self._connected_once = False
        self._changes = 0
        self._reloads = 0
        self._failed = 0

    def statistics(self) -> ConfigWatchStatistics:
        return ConfigWatchStatistics(
            listening=self._listening, changes=self._changes, reloads=self._reloads,
            failed_reloads=self._failed,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        missed = trio.Event()

        def on_listening(listening: bool) -> None:
            self._listening = listening
            if listening and self._connected_once:
                missed.set()  # changes saved while we were away are not replayed
            self._connected_once = self._connected_once or listening

        async def on_payload(_payload: str) -> None:
            self._changes += 1
            await self._reload()

        async with trio.open_nursery() as nursery:

            async def catch_up() -> None:
                nonlocal missed
                while True:
                    await missed.wait()
                    missed = trio.Event()
                    await self._reload()

            nursery.start_soon(catch_up)
            await listen_forever(
                self._url, events.CONFIG_CHANNEL, on_payload, name="config watch",
                on_listening=on_listening, backoff=RECONNECT_BACKOFF, task_status=task_status,
            )

    async def _reload(self) -> None:
        try:
            with trio.fail_after(LOAD_TIMEOUT):
                async with self._pool.connection() as conn:
                    config = await sysconfig.load(conn, self._base)
        except (DatabaseUnavailable, psycopg.Error, trio.TooSlowError) as exc:
            self._failed += 1
            log.warning("config watch: cannot reload the system config: %s", exc)
            return
        self._reloads += 1
        sysconfig.tell_listeners(config)


@asynccontextmanager
async def following_config(
    pool: Pool, base: sysconfig.Config | None, listener: Callable[[sysconfig.Config], None], *, name: str
) -> AsyncIterator[None]:
    """Tell ``listener`` the stored config now (the defaults if the database cannot be read
    yet), then every saved change, until the block ends: the timers' way to follow the config."""
    try:
        async with pool.connection() as conn:
            listener(await sysconfig.load(conn, base))
    except (DatabaseUnavailable, psycopg.Error) as exc:
        log.warning("%s: cannot read the system config, using defaults: %s", name, exc)
    unsubscribe = sysconfig.subscribe(listener)
    try:
        yield
    finally:
        unsubscribe()
