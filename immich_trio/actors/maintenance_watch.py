"""The maintenance watch: keeps this process's ``MaintenanceMode`` flag equal to the stored
maintenance state, which any process may change (``sql/maintenance.py`` NOTIFY)."""

from __future__ import annotations

import logging

import attrs
import psycopg
import trio

from immich_trio.sql import maintenance as q
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "maintenance-watch"
LOAD_TIMEOUT = 10.0


@attrs.define
class MaintenanceMode:
    """Read by the request edge on every request; written only by the watch (and by the
    handler that changed the state, so its own process needs no round trip)."""

    active: bool = False


class MaintenanceWatch:
    """Owns one LISTEN connection on ``sql.maintenance.CHANNEL``; a supervised task (``run``).

    Reads the state when LISTEN is in place (each reconnect too: a change may have been
    missed) and on each notification; a failed read keeps the last known value.
    """

    def __init__(self, pool: Pool, flag: MaintenanceMode) -> None:
        self._pool = pool
        self._flag = flag

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listening = trio.Event()

        def on_listening(up: bool) -> None:
            if up:
                listening.set()

        async def on_payload(payload: str) -> None:
            self._flag.active = payload == "1"

        async with trio.open_nursery() as nursery:

            async def catch_up() -> None:
                nonlocal listening
                while True:
                    await listening.wait()
                    listening = trio.Event()
                    await self.reload()

            nursery.start_soon(catch_up)
            await listen_forever(
                self._pool.url, q.CHANNEL, on_payload, name="maintenance watch",
                on_listening=on_listening, task_status=task_status,
            )

    async def reload(self) -> None:
        try:
            with trio.fail_after(LOAD_TIMEOUT):
                async with self._pool.connection() as conn:
                    state = await q.get_state(conn)
        except (DatabaseUnavailable, psycopg.Error, trio.TooSlowError) as exc:
            log.warning("maintenance watch: cannot read the maintenance state: %s", exc)
            return
        self._flag.active = bool(state.get("isMaintenanceMode"))
