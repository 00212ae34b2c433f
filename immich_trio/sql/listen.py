"""LISTEN on a dedicated connection for as long as the caller runs, reconnecting with backoff."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import psycopg
import trio

from immich_trio.reactor import Backoff
from immich_trio.sql.driver import connect

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
CLOSE_TIMEOUT = 5.0
RECONNECT_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=30.0)


async def listen_forever(
    url: str,
    channel: str,
    on_payload: Callable[[str], Awaitable[None]],
    *,
    name: str,
    on_listening: Callable[[bool], None] = lambda _: None,
    backoff: Backoff = RECONNECT_BACKOFF,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Call ``on_payload`` for each notification on ``channel`` until cancelled.

    ``on_listening(True)`` once LISTEN is in place (callers catch up on what they may have
    missed), ``on_listening(False)`` when the connection is lost. ``started`` is reported once
    listening, or after the first failed attempt, so a database outage holds nobody up.
    """
    started = False
    failures = 0
    while True:
        try:
            conn = await connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            try:
                await conn.execute(f"LISTEN {channel}")
                failures = 0
                on_listening(True)
                if not started:
                    started = True
                    task_status.started()
                async with aclosing(conn.notifies()) as notifications:
                    async for notification in notifications:
                        await on_payload(notification.payload)
            finally:
                on_listening(False)
                with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                    await conn.close()
        except (psycopg.Error, OSError) as exc:
            log.warning("%s: LISTEN connection failed: %s", name, exc)
        if not started:
            started = True
            task_status.started()
        await trio.sleep(backoff.delay(failures))
        failures += 1
