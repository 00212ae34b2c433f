"""The server's supervision tree: database, migrations, the parts that ``IMMICH_WORKERS_*``
select (the HTTP front and its socket relay; the dispatcher and media actors), signals."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from immich_trio import sysconfig
from immich_trio.actors import uploader
from immich_trio.actors.config_watch import TASK_NAME as CONFIG_WATCH_TASK
from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.cron_schedule import TASK_NAME as CRON_SCHEDULE_TASK
from immich_trio.actors.cron_schedule import CronSchedule
from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.geodata.loader import TASK_NAME as GEODATA_TASK
from immich_trio.actors.geodata.loader import GeodataLoader
from immich_trio.actors.library_scanner.watch import TASK_NAME as LIBRARY_WATCH_TASK
from immich_trio.actors.library_scanner.watch import LibraryWatch
from immich_trio.actors.maintenance_restore import DatabaseRestorer
from immich_trio.actors.maintenance_watch import TASK_NAME as MAINTENANCE_WATCH_TASK
from immich_trio.actors.maintenance_watch import MaintenanceMode, MaintenanceWatch
from immich_trio.actors.notifier.hub import Hub
from immich_trio.actors.scheduler import TASK_NAME as SCHEDULER_TASK
from immich_trio.actors.scheduler import NightlyScheduler
from immich_trio.actors.version_check import RELEASE_URL, VersionCheck
from immich_trio.actors.version_check import TASK_NAME as VERSION_CHECK_TASK
from immich_trio.actors.video_stream.streamer import HlsStreamer
from immich_trio.config import Settings
from immich_trio.http.socketio.relay import TASK_NAME as RELAY_TASK
from immich_trio.http.socketio.relay import EventRelay
from immich_trio.microservices import ML_TASK, add_microservices, make_clip, run_clip
from immich_trio.reactor import Backoff, Restart, RestartLimit, Supervisor
from immich_trio.runtime import Runtime, WallClock, utc_now
from immich_trio.sql.credential_cache import TASK_NAME as CREDENTIAL_WATCH_TASK
from immich_trio.sql.credential_cache import CredentialCache
from immich_trio.sql.embedded import run_embedded_postgres, socket_dir_for, url_for
from immich_trio.sql.pool import Pool
from immich_trio.startup import apply_migrations

log = logging.getLogger("immich_trio")

SHUTDOWN_GRACE = 10.0
# The database may take a while to come back; keep trying rather than give up.
DATABASE_LIMIT = RestartLimit(max_restarts=1000, window=60.0)
DATABASE_BACKOFF = Backoff(initial=0.2, factor=2.0, cap=5.0)
_PY_LEVELS = {
    "verbose": logging.DEBUG,
    "debug": logging.DEBUG,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=_PY_LEVELS[settings.log_level],
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)


def database_url(settings: Settings) -> str:
    if settings.db_url is not None:
        return settings.db_url
    return url_for(socket_dir_for(settings.embedded_db_dir.absolute()), "immich")


def make_media_folders(settings: Settings) -> None:
    for folder in ("upload", "thumbs", "encoded-video", "profile", "library", "backups"):
        (settings.media_location / folder).mkdir(parents=True, exist_ok=True)


def build_tree(
    settings: Settings, pool: Pool, *, now: WallClock = utc_now, timers: bool = True
) -> tuple[Supervisor, Runtime]:
    """The whole server as a supervision tree, and the runtime its HTTP front is given
    (also used by tests, with their own settings; they pass ``timers=False`` so that no
    nightly or cron job appears in the job table when a run crosses the start time).

    ``settings.workers`` decides the parts, as Immich's ``IMMICH_WORKERS_INCLUDE`` /
    ``IMMICH_WORKERS_EXCLUDE`` do. Every process: the database pool, migrations (under an
    advisory lock, so processes may start together) and the config watch. ``api``: upload
    recovery and the uploader (uploads stream into this process), the event relay to this
    process's sockets, and HTTP last (recovery settles interrupted uploads before new ones
    arrive). ``microservices``: the dispatcher and the media actors; with no ``api`` there
    is no HTTP listener, as in Immich.
    """
    from immich_trio.http.app import create_app

    sysconfig.set_process_defaults(sysconfig.defaults_for(settings))
    root = Supervisor("immich-trio", wall_clock=now)
    database = Supervisor("database", limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    if settings.uses_embedded_db:
        database.add_task(
            "postgres",
            partial(run_embedded_postgres, settings.embedded_db_dir.absolute()),
            limit=DATABASE_LIMIT,
            backoff=DATABASE_BACKOFF,
        )
    database.add_task("pool", pool.run, limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    root.add_supervisor(database, limit=DATABASE_LIMIT)
    root.add_task(
        "migrations",
        partial(
            apply_migrations,
            pool,
            settings.media_location.absolute(),
            ignore_mount_check_errors=settings.ignore_mount_check_errors,
        ),
        restart=Restart.TRANSIENT,
        limit=DATABASE_LIMIT,
        backoff=DATABASE_BACKOFF,
    )

    media = Supervisor("media")
    media.add_task(CONFIG_WATCH_TASK, ConfigWatch(pool, sysconfig.defaults_for(settings)).run)
    if settings.reverse_geocoding_import:
        # Reverse-geocoding data, imported once in the background (start does not wait for it).
        loader = GeodataLoader(pool, settings.reverse_geocoding_root)
        media.add_task(GEODATA_TASK, loader.run, restart=Restart.TRANSIENT)
    clip = make_clip(settings)
    media.add_task(ML_TASK, partial(run_clip, clip))
    upload_address = uploader.supervise(media, pool, settings.media_location) if settings.runs_api else None
    stream_address = media.add_actor(HlsStreamer(pool, settings.media_location)) if settings.runs_api else None
    parts = add_microservices(media, pool, settings, now, clip) if settings.runs_microservices else None
    dispatcher = parts.dispatcher if parts is not None else None
    if parts is not None:
        media.add_task(LIBRARY_WATCH_TASK, LibraryWatch(pool).run)
    hub = Hub()
    maintenance = MaintenanceMode()
    credentials: CredentialCache[Any] = CredentialCache()
    restorer = DatabaseRestorer(pool, settings.media_location, now=now) if settings.runs_api else None
    if restorer is not None:
        media.add_task(MAINTENANCE_WATCH_TASK, MaintenanceWatch(pool, maintenance).run)
        media.add_actor(restorer)
        media.add_task(RELAY_TASK, EventRelay(pool, hub).run)
        media.add_task(CREDENTIAL_WATCH_TASK, partial(credentials.run, pool.url))
    if settings.runs_api and timers:
        # Immich's API worker holds the nightly cron; ours records each night in the database
        media.add_task(SCHEDULER_TASK, NightlyScheduler(pool, now=now, base=sysconfig.defaults_for(settings)).run)
        media.add_task(CRON_SCHEDULE_TASK, CronSchedule(pool, now=now, base=sysconfig.defaults_for(settings)).run)
        check = VersionCheck(
            pool, now=now, url=settings.version_check_url or RELEASE_URL, base=sysconfig.defaults_for(settings)
        )
        media.add_task(VERSION_CHECK_TASK, check.run)
    root.add_supervisor(media)

    status = partial(_status, root, pool, dispatcher)
    runtime = Runtime(
        settings=settings,
        pool=pool,
        now=now,
        hub=hub,
        maintenance=maintenance,
        credentials=credentials,
        restorer=restorer.address if restorer is not None else None,
        uploader=upload_address,
        streamer=stream_address,
        dispatcher=dispatcher,
        clip=clip,
        status=status,
    )
    if settings.runs_api:
        root.add_task("http", partial(serve_http, settings, create_app(runtime)))
    if settings.telemetry:
        from immich_trio.http import metrics

        root.add_task("metrics", partial(metrics.serve, settings, status))
    return root, runtime


async def serve_http(
    settings: Settings, app: QuartTrio, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Hypercorn on ``IMMICH_HOST:IMMICH_PORT`` until cancelled; started once listening."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5

    async def serve_until_cancelled(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await hypercorn_serve(app, config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_until_cancelled)
        log.info("listening on %s", ", ".join(binds))
        task_status.started()


def _status(root: Supervisor, pool: Pool, dispatcher: Dispatcher | None) -> dict[str, Any]:
    """The tree, the pool, and job counts per queue (rendered by ``/metrics`` too)."""
    return {
        "supervisors": [root.snapshot().to_dict()],
        "database": attrs.asdict(pool.statistics()),
        "queues": dispatcher.queue_depths() if dispatcher is not None else {},
    }


@asynccontextmanager
async def _signals(on_signal: Callable[[], None]) -> Any:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in receiver:
                    on_signal()
                    return

            nursery.start_soon(watch)
            yield
            nursery.cancel_scope.cancel()


async def serve(settings: Settings, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the server until SIGINT/SIGTERM, then shut down within ``SHUTDOWN_GRACE`` seconds."""
    make_media_folders(settings)
    root, runtime = build_tree(settings, Pool(database_url(settings)))
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        log.info("running workers: %s", ", ".join(sorted(settings.workers)))
        task_status.started(runtime)
        stop = trio.Event()
        async with _signals(stop.set):
            await stop.wait()
        log.info("shutting down")
        await root.shutdown(deadline=trio.current_time() + SHUTDOWN_GRACE)
        nursery.cancel_scope.cancel()
