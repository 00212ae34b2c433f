"""The event relay: turns committed pipeline events (PostgreSQL NOTIFY on ``sql.events.CHANNEL``)
into socket.io events on this process's hub.

Jobs publish a small reference inside their transaction (``sql/events.py``); the relay of
every API process LISTENs, loads the current state of the asset and emits Immich's events
to the owner's sockets. Events published while the relay's connection is down are lost, as
socket.io events are when a client is offline: Immich's clients re-sync on reconnect.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import attrs
import psycopg
import trio

from immich_trio.actors.notifier.hub import Hub
from immich_trio.http.dto import to_wire
from immich_trio.http.dto.assets import asset_dto, b64
from immich_trio.reactor import Backoff
from immich_trio.sql import events as q
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
ASSET_EVENTS = frozenset({"on_upload_success", "on_asset_update"})
ID_EVENTS = frozenset({"on_asset_delete"})
"""Events whose payload is the reference itself (the row may be gone): sent as they are."""


# -- payloads of AssetUploadReadyV2 -----------------------------------------------------
# Defined here until the sync stream (which shares these shapes) has its DTO module.


@attrs.frozen(kw_only=True)
class SyncAssetV2:
    id: str
    owner_id: str
    original_file_name: str
    thumbhash: str | None
    checksum: str
    file_created_at: datetime
    file_modified_at: datetime
    local_date_time: datetime
    duration: int | None
    type: str
    deleted_at: datetime | None
    is_favorite: bool
    visibility: str
    live_photo_video_id: str | None
    stack_id: str | None
    library_id: str | None
    width: int | None
    height: int | None
    is_edited: bool
    created_at: datetime


@attrs.frozen(kw_only=True)
class SyncAssetExifV1:
    asset_id: str
    description: str | None
    exif_image_width: int | None
    exif_image_height: int | None
    file_size_in_byte: int | None
    orientation: str | None
    date_time_original: datetime | None
    modify_date: datetime | None
    time_zone: str | None
    latitude: float | None
    longitude: float | None
    projection_type: str | None
    city: str | None
    state: str | None
    country: str | None
    make: str | None
    model: str | None
    lens_model: str | None
    f_number: float | None
    focal_length: float | None
    iso: int | None
    exposure_time: str | None
    profile_description: str | None
    rating: int | None
    fps: float | None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def sync_asset(row: dict[str, Any]) -> SyncAssetV2:
    return SyncAssetV2(
        id=str(row["id"]),
        owner_id=str(row["ownerId"]),
        original_file_name=row["originalFileName"],
        thumbhash=b64(row["thumbhash"]),
        checksum=b64(row["checksum"]) or "",
        file_created_at=row["fileCreatedAt"],
        file_modified_at=row["fileModifiedAt"],
        local_date_time=row["localDateTime"],
        duration=row["duration"],
        type=row["type"],
        deleted_at=row["deletedAt"],
        is_favorite=bool(row["isFavorite"]),
        visibility=row["visibility"],
        live_photo_video_id=_str(row["livePhotoVideoId"]),
        stack_id=_str(row["stackId"]),
        library_id=_str(row["libraryId"]),
        width=row["width"],
        height=row["height"],
        is_edited=bool(row["isEdited"]),
        created_at=row["createdAt"],
    )


def sync_exif(row: dict[str, Any]) -> SyncAssetExifV1:
    return SyncAssetExifV1(
        asset_id=str(row["assetId"]),
        description=row["description"],
        exif_image_width=row["exifImageWidth"],
        exif_image_height=row["exifImageHeight"],
        file_size_in_byte=None if row["fileSizeInByte"] is None else int(row["fileSizeInByte"]),
        orientation=row["orientation"],
        date_time_original=row["dateTimeOriginal"],
        modify_date=row["modifyDate"],
        time_zone=row["timeZone"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        projection_type=row["projectionType"],
        city=row["city"],
        state=row["state"],
        country=row["country"],
        make=row["make"],
        model=row["model"],
        lens_model=row["lensModel"],
        f_number=row["fNumber"],
        focal_length=row["focalLength"],
        iso=row["iso"],
        exposure_time=row["exposureTime"],
        profile_description=row["profileDescription"],
        rating=row["rating"],
        fps=row["fps"],
    )


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

        await listen_forever(
            self._url, q.CHANNEL, self._deliver_safely, name="event relay",
            on_listening=on_listening, backoff=RECONNECT_BACKOFF, task_status=task_status,
        )

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
        if notice is not None and notice.event in ID_EVENTS:
            self._hub.emit_to_user(notice.user_id, notice.event, notice.ref)
            self._delivered += 1
            return
        if notice is None or notice.event not in ASSET_EVENTS:
            log.warning("event relay: ignoring notification %r", payload[:200])
            self._dropped += 1
            return
        try:
            with trio.fail_after(LOAD_TIMEOUT):
                async with self._pool.connection() as conn:
                    row = await q.asset_with_relations(conn, notice.ref)
                    exif = await q.exif_row(conn, notice.ref) if row is not None else None
        except (DatabaseUnavailable, psycopg.Error, trio.TooSlowError) as exc:
            log.warning("event relay: cannot load asset %s for %s: %s", notice.ref, notice.event, exc)
            self._dropped += 1
            return
        if row is None:
            self._dropped += 1  # deleted before we got to it: nothing to announce
            return
        owner = str(row["ownerId"])
        # No caller context: isFavorite false, no stack; faces are not detected yet.
        dto = to_wire(
            asset_dto(row, caller_id=None, exif=row["exifInfo"], tags=row["tags"], people=())
        )
        if notice.event == "on_upload_success":
            if row["visibility"] not in READY_VISIBILITIES:
                self._dropped += 1
                return
            self._hub.emit_to_user(owner, "on_upload_success", dto)
            if exif is not None:
                ready = {"asset": to_wire(sync_asset(row)), "exif": to_wire(sync_exif(exif))}
                self._hub.emit_to_user(owner, "AssetUploadReadyV2", ready)
        else:
            self._hub.emit_to_user(owner, notice.event, dto)
        self._delivered += 1
