"""The server's supervision tree: database, migrations, media actors and the HTTP front."""

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

from immich_trio import IMMICH_VERSION_STRING
from immich_trio.actors import uploader
from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.janitor import JanitorActor
from immich_trio.actors.metadata.actor import MetadataActor
from immich_trio.actors.notifier.hub import Hub
from immich_trio.actors.notifier.relay import TASK_NAME as RELAY_TASK
from immich_trio.actors.notifier.relay import EventRelay
from immich_trio.actors.queue_all import HANDLED as QUEUE_ALL_JOBS
from immich_trio.actors.queue_all import QueueAllActor
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.config import Settings
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.reactor import Backoff, Restart, RestartLimit, Supervisor
from immich_trio.runtime import Runtime
from immich_trio.sql import server as server_sql
from immich_trio.sql.embedded import run_embedded_postgres, socket_dir_for, url_for
from immich_trio.sql.migrate import migrate
from immich_trio.sql.pool import Pool

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


async def apply_migrations(pool: Pool, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    async with pool.connection() as conn:
        applied = await migrate(conn)
        await server_sql.record_version(conn, IMMICH_VERSION_STRING)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    task_status.started()


DISPATCHER = "dispatcher"
QUEUE_ALL = "queue-all"
"""Keys in ``Runtime.services``, beside ``uploader``, ``metadata`` and ``thumbnailer``
(each actor's address under its name; the dispatcher itself under ``dispatcher``)."""


def build_media(settings: Settings, runtime: Runtime) -> tuple[Supervisor, Dispatcher | None]:
    """The ``media`` supervisor: upload recovery and the uploader, then (unless this process
    only serves the API) the dispatcher and the actors it feeds, then the event relay.

    Needs the pool and migrations started before it, and must start before HTTP: recovery
    settles interrupted uploads before new ones arrive. The dispatcher comes before its
    workers so that, stopping in reverse order, the workers finish their jobs while the
    dispatcher can still record the outcomes.
    """
    if runtime.hub is None:
        runtime.hub = Hub()
    media = Supervisor("media")
    uploader.supervise(media, runtime.pool, settings.media_location, runtime.services)
    dispatcher: Dispatcher | None = None
    if settings.role != "api":
        dispatcher = Dispatcher(runtime.pool, name=DISPATCHER)
        media.add_actor(dispatcher)
        # The instance, not its address: callers use its synchronous API (wake after an
        # enqueue outside a transaction, queue_depths, set_concurrency).
        runtime.services[DISPATCHER] = dispatcher
        metadata = MetadataActor(runtime.pool, settings.media_location, now=runtime.now)
        thumbnailer = ThumbnailerActor(runtime.pool, settings.media_location)
        queue_all = QueueAllActor(name=QUEUE_ALL)
        janitor = JanitorActor(runtime.pool, now=runtime.now)
        for actor in (metadata, thumbnailer, queue_all, janitor):
            runtime.services[actor.name] = media.add_actor(actor)
        dispatcher.register(JobName.ASSET_EXTRACT_METADATA, metadata.address)
        dispatcher.register(JobName.ASSET_GENERATE_THUMBNAILS, thumbnailer.address)
        for job in QUEUE_ALL_JOBS:
            dispatcher.register(job, queue_all.address)
        dispatcher.register(QueueName.BACKGROUND_TASK, janitor.address)
    media.add_task(RELAY_TASK, EventRelay(runtime.pool, runtime.hub).run)
    return media, dispatcher


def build_tree(settings: Settings, runtime: Runtime) -> Supervisor:
    """The whole server as a supervision tree (also used by tests, with their own settings)."""
    from immich_trio.http.app import create_app

    root = Supervisor("immich-trio", wall_clock=runtime.now)
    database = Supervisor("database", limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    if settings.uses_embedded_db:
        database.add_task(
            "postgres",
            partial(run_embedded_postgres, settings.embedded_db_dir.absolute()),
            limit=DATABASE_LIMIT,
            backoff=DATABASE_BACKOFF,
        )
    database.add_task("pool", runtime.pool.run, limit=DATABASE_LIMIT, backoff=DATABASE_BACKOFF)
    root.add_supervisor(database, limit=DATABASE_LIMIT)
    root.add_task(
        "migrations",
        partial(apply_migrations, runtime.pool),
        restart=Restart.TRANSIENT,
        limit=DATABASE_LIMIT,
        backoff=DATABASE_BACKOFF,
    )

    media, dispatcher = build_media(settings, runtime)
    root.add_supervisor(media)

    app = create_app(runtime)

    async def http(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
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

    root.add_task("http", http)
    runtime.status = partial(_status, root, runtime, dispatcher)
    return root


def _status(root: Supervisor, runtime: Runtime, dispatcher: Dispatcher | None) -> dict[str, Any]:
    """The tree, the pool, and job counts per queue (rendered by ``/metrics`` too)."""
    return {
        "supervisors": [root.snapshot().to_dict()],
        "database": _pool_status(runtime),
        "queues": dispatcher.queue_depths() if dispatcher is not None else {},
    }


def _pool_status(runtime: Runtime) -> dict[str, Any]:
    return attrs.asdict(runtime.pool.statistics())


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
    pool = Pool(database_url(settings))
    runtime = Runtime(settings=settings, pool=pool, hub=Hub())
    root = build_tree(settings, runtime)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        task_status.started(runtime)
        stop = trio.Event()
        async with _signals(stop.set):
            await stop.wait()
        log.info("shutting down")
        await root.shutdown(deadline=trio.current_time() + SHUTDOWN_GRACE)
        nursery.cancel_scope.cancel()
