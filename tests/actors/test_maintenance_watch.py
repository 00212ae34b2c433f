"""The maintenance watch follows the stored state, as another process changes it."""

from __future__ import annotations

from collections.abc import Callable

import trio

from immich_trio.actors.maintenance_watch import MaintenanceMode, MaintenanceWatch
from immich_trio.sql import maintenance as q
from immich_trio.sql.pool import Pool


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(200):  # the NOTIFY arrives on another connection: poll up to 10 s
        if condition():
            return
        await trio.sleep(0.05)
    raise AssertionError("the maintenance flag did not follow the stored state")


async def test_flag_follows_other_process(pool: Pool, nursery: trio.Nursery) -> None:
    flag = MaintenanceMode()
    await nursery.start(MaintenanceWatch(pool, flag).run)
    async with pool.connection() as conn, conn.transaction():
        await q.set_state(conn, {"isMaintenanceMode": True, "secret": "s"})
    await _until(lambda: flag.active)
    async with pool.connection() as conn, conn.transaction():
        await q.set_state(conn, {"isMaintenanceMode": False})
    await _until(lambda: not flag.active)
