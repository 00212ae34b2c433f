"""Realtime events across the transaction boundary, and what the relay loads to send them.

A job's ``apply`` calls ``publish`` inside its transaction: PostgreSQL delivers a NOTIFY only
at commit, so a client never hears of a change that was rolled back, and every process that
LISTENs (the event relay of each API process) hears it. The payload is a small reference,
never the event itself: NOTIFY payloads are capped at 8000 bytes, and the relay loads the
current state when it delivers.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.sql.assets.info import ASSET_INFO

Conn = AsyncConnection[Any]

CHANNEL = "immich_trio_events"
NOTIFY = "SELECT pg_notify(%s, %s)"


@attrs.frozen(kw_only=True)
class EventNotice:
    """``event`` concerns ``ref`` (e.g. an asset id) and goes to the sockets of ``user_id``."""

    user_id: str
    event: str
    ref: str


def encode(notice: EventNotice) -> str:
    return json.dumps(
        {"u": notice.user_id, "e": notice.event, "r": notice.ref}, separators=(",", ":")
    )


def decode(payload: str) -> EventNotice | None:
    """The notice in a NOTIFY payload; None for anything malformed."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    user_id, event, ref = data.get("u"), data.get("e"), data.get("r")
    if not (isinstance(user_id, str) and isinstance(event, str) and isinstance(ref, str)):
        return None
    return EventNotice(user_id=user_id, event=event, ref=ref)


async def publish(conn: Conn, user_id: UUID | str, event: str, payload_ref: UUID | str) -> None:
    """Announce ``event`` about ``payload_ref`` to ``user_id``; delivered when ``conn`` commits."""
    notice = EventNotice(user_id=str(user_id), event=event, ref=str(payload_ref))
    await conn.execute(NOTIFY, (CHANNEL, encode(notice)))


# -- what the relay loads ----------------------------------------------------------------

EXIF_ROW = """
SELECT "assetId", city, country, "dateTimeOriginal", description, "exifImageHeight",
       "exifImageWidth", "exposureTime", "fNumber", "fileSizeInByte", "focalLength", fps, iso,
       latitude, "lensModel", longitude, make, model, "modifyDate", orientation,
       "profileDescription", "projectionType", rating, state, "timeZone"
FROM asset_exif WHERE "assetId" = %s
"""


async def asset_with_relations(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The asset row with exifInfo/owner/tags/stack as ``GET /assets/{id}`` loads it."""
    cur = await conn.execute(ASSET_INFO, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def exif_row(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The columns of ``SyncAssetExifV1``, as stored; None if the asset has no exif row."""
    cur = await conn.execute(EXIF_ROW, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row
