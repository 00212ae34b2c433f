"""The running server's parts that its HTTP layer is given (the composition root's product):
settings, the pool, clocks, this process's socket hub and the actors' addresses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from immich_trio.actors.maintenance_watch import MaintenanceMode
from immich_trio.actors.notifier.hub import Hub
from immich_trio.config import Settings
from immich_trio.sql.credential_cache import CredentialCache
from immich_trio.sql.snapshot_cache import SnapshotCache

if TYPE_CHECKING:
    from immich_trio.actors.dispatcher import Dispatcher
    from immich_trio.actors.maintenance_restore import RestoreDatabase
    from immich_trio.actors.uploader import UploaderMsg
    from immich_trio.actors.video_stream.messages import StreamerMsg
    from immich_trio.ml.service import ClipService
    from immich_trio.reactor import Address
    from immich_trio.sql.pool import Pool

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.define(kw_only=True)
class Runtime:
    """Built once by ``supervision_tree.build_tree`` (tests build their own, with the parts
    they need). Which parts exist follows ``settings.workers``."""

    settings: Settings
    pool: Pool
    # Wall-clock dates come from here, so tests can inject a clock.
    now: WallClock = utc_now
    # This process's sockets. Only the socket layer (``http/socketio``) touches it: events
    # reach it from every process through the relay (NOTIFY), never from a handler.
    hub: Hub = attrs.field(factory=Hub)
    # Maintenance mode as this process knows it (kept current by the maintenance watch).
    maintenance: MaintenanceMode = attrs.field(factory=MaintenanceMode)
    # Resolved sessions and API keys; answers only while its watch (LISTEN) runs.
    credentials: CredentialCache[Any] = attrs.field(factory=CredentialCache)
    # Answers kept while nothing commits (``GET /albums``): see ``sql.snapshot_cache``.
    answers: SnapshotCache = attrs.field(factory=SnapshotCache)
    # Takes staged uploads in; None where this process runs no ``api`` worker.
    uploader: Address[UploaderMsg] | None = None
    # Owns the HLS streaming sessions and their transcodes; None where this process runs no
    # ``api`` worker.
    streamer: Address[StreamerMsg] | None = None
    # Runs the maintenance action ``restore_database``; None where this process runs no
    # ``api`` worker.
    restorer: Address[RestoreDatabase] | None = None
    # Claims and runs jobs; None where this process runs no ``microservices`` worker
    # (enqueues wake the dispatcher of another process by NOTIFY).
    dispatcher: Dispatcher | None = None
    # CLIP encoding (in-process or Immich's ML service); None where no tree built one.
    clip: ClipService | None = None
    # Returns the supervision tree as a JSON-ready dict (None outside a tree).
    status: Callable[[], dict[str, Any]] | None = None
