"""The event relay: turns committed events (PostgreSQL NOTIFY on ``sql.events.CHANNEL``)
into socket.io events on this process's hub.

Handlers and jobs publish inside their transaction (``sql/events.py``); the relay of every
API process LISTENs and sends each event to the room it names: an asset event with the
asset's current state (loaded here, shaped as the API shapes it), other events with their
arguments. Events published while the relay's connection is down are lost, as socket.io
events are when a client is offline: Immich's clients re-sync on reconnect.
"""

from __future__ import annotations

import logging

import attrs
import psycopg
import trio

from immich_trio.actors.notifier.hub import Hub
from immich_trio.actors.version_check import release_notification
from immich_trio.http.dto import to_wire
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.socketio.payloads import sync_asset, sync_edit, sync_exif
from immich_trio.reactor import Backoff
from immich_trio.sql import events as q
from immich_trio.sql import system_metadata
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.listen import listen_forever
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "event-relay"
LOAD_TIMEOUT = 10.0
"""Seconds loading one event's data may take before the event is dropped."""
RECONNECT_BACKOFF = Backoff(initial=0.5, factor=2.0, cap=30.0)
READY_VISIBILITIES = frozenset({"timeline", "archive"})
"""Only these assets are announced on upload (hidden live-photo parts and locked ones are not)."""
EDIT_READY = "AssetEditReadyV2"
ASSET_EVENTS = frozenset({"on_upload_success", "on_asset_update", EDIT_READY})
"""Events that may carry an asset reference (``EventNotice.ref``) for the relay to load."""


# -- the relay --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RelayStatistics:
    listening: bool
    received: int
    delivered: int
    dropped: int
    reconnects: int


class EventRelay:
    """Owns one dedicated LISTEN connection; a supervised task (``run``).

    Reconnects with ``RECONNECT_BACKOFF`` when the connection drops and never fails on
    a bad notification or a failed load (the event is logged and dropped). Emitting to
    the hub never blocks (slow sockets are dropped by the hub), so one event at a time
    is enough; a load is bounded by ``LOAD_TIMEOUT``.
    """

    def __init__(self, pool: Pool, hub: Hub, *, url: str | None = None) -> None:
        self._pool = pool
        self._hub = hub
        self._url = url or pool.url
        self._listening = False
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._reconnects = 0

    def statistics(self) -> RelayStatistics:
        return RelayStatistics(
            listening=self._listening,
            received=self._received,
            delivered=self._delivered,
            dropped=self._dropped,
            reconnects=self._reconnects,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """LISTEN and relay until cancelled; ``started`` once listening (or after the first
        failed attempt, so the rest of the tree is not held up by a database outage)."""

        def on_listening(listening: bool) -> None:
            if self._listening and not listening:
                self._reconnects += 1
            self._listening = listening

        await self._load_release_notice()
        await listen_forever(
            self._url, q.CHANNEL, self._deliver_safely, name="event relay",
            on_listening=on_listening, backoff=RECONNECT_BACKOFF, task_status=task_status,
        )

    async def _load_release_notice(self) -> None:
        """The last version check's notice, sent on every connect as Immich does, also after a
        restart (later checks replace it through ``on_new_release``). Best effort: a database
        that is not up yet leaves it for the next check."""
        try:
            async with self._pool.connection() as conn:
                state = await system_metadata.get(conn, system_metadata.VERSION_CHECK_STATE)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.info("event relay: no stored version-check notice yet (%s)", exc)
            return
        notice = release_notification(state) if isinstance(state, dict) else None
        if notice is not None:
            self._hub.set_release_notice(notice)

    async def _deliver_safely(self, payload: str) -> None:
        # A bug in building one event must not cost the connection (and the events
        # published while it reconnects): log it and go on.
        try:
            await self.deliver(payload)
        except Exception:
            self._dropped += 1
            log.exception("event relay: delivering %r failed", payload[:200])

    async def deliver(self, payload: str) -> None:
        """Emit the events one NOTIFY payload stands for (never raises for bad data)."""
        self._received += 1
        notice = q.decode(payload)
        if notice is None or (notice.ref is not None and notice.event not in ASSET_EVENTS):
            log.warning("event relay: ignoring notification %r", payload[:200])
            self._dropped += 1
            return
        if notice.ref is None:
            self._send(notice, *notice.args)
        elif not await self._deliver_asset(notice, notice.ref):
            self._dropped += 1
            return
        self._delivered += 1

    def _send(self, notice: q.EventNotice, *args: object) -> None:
        if notice.event == "on_new_release" and args:
            self._hub.set_release_notice(args[0])  # sent again on every later connect
        if notice.user_id is not None:
            self._hub.emit_to_user(notice.user_id, notice.event, *args)
        elif notice.session_id is not None:
            self._hub.emit_to_session(notice.session_id, notice.event, *args)
            if notice.disconnect:
                self._hub.disconnect_session(notice.session_id)
        else:
            self._hub.broadcast(notice.event, *args)

    async def _deliver_asset(self, notice: q.EventNotice, asset_id: str) -> bool:
        """Load the asset and emit; False when there is nothing to announce."""
        try:
            with trio.fail_after(LOAD_TIMEOUT):
                async with self._pool.connection() as conn:
                    row = await q.asset_with_relations(conn, asset_id)
                    exif = await q.exif_row(conn, asset_id) if row is not None else None
                    edits = await q.edit_sync_rows(conn, asset_id) if notice.event == EDIT_READY else []
        except (DatabaseUnavailable, psycopg.Error, trio.TooSlowError) as exc:
            log.warning("event relay: cannot load asset %s for %s: %s", asset_id, notice.event, exc)
            return False
        if row is None:
            return False  # deleted before we got to it: nothing to announce
        if notice.event == EDIT_READY:
            # The sync shapes, as Immich's job service sends them once an edit is rendered.
            ready = {"asset": to_wire(sync_asset(row)), "edit": [to_wire(sync_edit(e)) for e in edits]}
            self._hub.emit_to_user(str(row["ownerId"]), EDIT_READY, ready)
            return True
        # Without a viewer (pipeline events, as Immich maps them): isFavorite false, no
        # stack; faces are not detected yet.
        dto = to_wire(
            asset_dto(row, caller_id=notice.viewer, exif=row["exifInfo"], tags=row["tags"], people=())
        )
        owner = str(row["ownerId"])
        if notice.event != "on_upload_success":
            self._hub.emit_to_user(notice.user_id or owner, notice.event, dto)
            return True
        if row["visibility"] not in READY_VISIBILITIES:
            return False
        self._hub.emit_to_user(owner, "on_upload_success", dto)
        if exif is not None:
            ready = {"asset": to_wire(sync_asset(row)), "exif": to_wire(sync_exif(exif))}
            self._hub.emit_to_user(owner, "AssetUploadReadyV2", ready)
        return True
