"""Events across the transaction boundary: every event that leaves a process is a NOTIFY.

Whoever makes a change publishes inside its transaction: PostgreSQL delivers a NOTIFY only
at commit, so nobody hears of a change that was rolled back, and every process that LISTENs
hears it. Two channels:

- ``CHANNEL``: socket.io events for clients. The relay of every API process LISTENs and
  sends each event to the sockets of the room it names. An asset event carries a small
  reference (the relay loads the current state when it delivers: NOTIFY payloads are capped
  at 8000 bytes); other events carry their few JSON arguments.
- ``CONFIG_CHANNEL``: the system config was saved; every process reloads it and tells its
  in-process listeners (``sysconfig.subscribe``).

Job wake-ups have their own channel beside the job queries (``sql/jobs``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.sql.assets.info import ASSET_INFO

Conn = AsyncConnection[Any]

CHANNEL = "immich_trio_events"
CONFIG_CHANNEL = "immich_trio_config"
NOTIFY = "SELECT pg_notify(%s, %s)"
PAYLOAD_LIMIT = 7900
"""Bytes of one NOTIFY payload we allow ourselves (PostgreSQL refuses 8000 and more)."""


@attrs.frozen(kw_only=True)
class EventNotice:
    """``event`` for the sockets of ``user_id``, or of ``session_id``, or (neither) everyone.

    With ``ref`` the relay loads that asset and sends it as ``viewer`` sees it (no viewer:
    as an anonymous caller, the way Immich maps pipeline events); otherwise it sends
    ``args`` as they are. ``disconnect`` ends the session's sockets after the event.
    """

    event: str
    user_id: str | None = None
    session_id: str | None = None
    ref: str | None = None
    viewer: str | None = None
    args: tuple[Any, ...] = ()
    disconnect: bool = False


_KEYS = {
    "event": "e", "user_id": "u", "session_id": "s", "ref": "r", "viewer": "v", "args": "a",
    "disconnect": "d",
}


def encode(notice: EventNotice) -> str:
    data: dict[str, Any] = {}
    for name, key in _KEYS.items():
        value = getattr(notice, name)
        if value is not None and value != () and value is not False:
            data[key] = list(value) if name == "args" else value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(payload: str) -> EventNotice | None:
    """The notice in a NOTIFY payload; None for anything malformed."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        return None
    texts: dict[str, str | None] = {}
    for name in ("user_id", "session_id", "ref", "viewer"):
        value = data.get(_KEYS[name])
        if value is not None and not isinstance(value, str):
            return None
        texts[name] = value
    args = data.get("a", [])
    if not isinstance(args, list):
        return None
    return EventNotice(
        event=data["e"], user_id=texts["user_id"], session_id=texts["session_id"],
        ref=texts["ref"], viewer=texts["viewer"], args=tuple(args), disconnect=data.get("d") is True,
    )


async def _send(conn: Conn, notice: EventNotice) -> None:
    payload = encode(notice)
    if len(payload.encode()) > PAYLOAD_LIMIT:
        raise ValueError(f"event {notice.event} is too large for one NOTIFY ({len(payload)} bytes)")
    await conn.execute(NOTIFY, (CHANNEL, payload))


async def publish(
    conn: Conn, user_id: UUID | str, event: str, payload_ref: UUID | str, *, viewer: UUID | str | None = None
) -> None:
    """Announce ``event`` about the asset ``payload_ref`` to ``user_id``'s sockets, on commit."""
    await _send(
        conn,
        EventNotice(
            event=event, user_id=str(user_id), ref=str(payload_ref),
            viewer=None if viewer is None else str(viewer),
        ),
    )


async def publish_to_user(conn: Conn, user_id: UUID | str, event: str, *args: Any) -> None:
    """Send ``event(*args)`` (JSON values) to ``user_id``'s sockets, on commit."""
    await _send(conn, EventNotice(event=event, user_id=str(user_id), args=args))


async def publish_ids(conn: Conn, user_id: UUID | str, event: str, ids: Iterable[UUID | str]) -> None:
    """Send ``event([id, ...])`` to ``user_id``'s sockets, on commit.

    A long list goes as several events of the same kind, each under the NOTIFY limit;
    Immich's clients apply each list on its own (remove, restore), so the effect is the same.
    """
    chunk: list[str] = []
    size = 0
    for item in ids:
        text = str(item)
        if chunk and size + len(text) + 3 > PAYLOAD_LIMIT - 200:
            await publish_to_user(conn, user_id, event, chunk)
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 3
    if chunk:
        await publish_to_user(conn, user_id, event, chunk)


async def publish_to_all(conn: Conn, event: str, *args: Any) -> None:
    """Send ``event(*args)`` to every connected socket of every process, on commit."""
    await _send(conn, EventNotice(event=event, args=args))


async def publish_session_deleted(conn: Conn, session_id: UUID | str) -> None:
    """Tell a logged-out session's sockets (``on_session_delete``), then end them, on commit."""
    sid = str(session_id)
    await _send(
        conn, EventNotice(event="on_session_delete", session_id=sid, args=(sid,), disconnect=True)
    )


async def publish_config_saved(conn: Conn) -> None:
    """Every process reloads the system config once ``conn`` commits."""
    await conn.execute(NOTIFY, (CONFIG_CHANNEL, ""))


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


EDIT_SYNC_ROWS = """
SELECT id, "assetId", sequence, action, parameters
FROM asset_edit WHERE "assetId" = %s ORDER BY sequence
"""


async def edit_sync_rows(conn: Conn, asset_id: UUID | str) -> list[dict[str, Any]]:
    """The asset's edits with the columns of ``SyncAssetEditV1``, in order (Immich's
    ``getWithSyncInfo``)."""
    cur = await conn.execute(EDIT_SYNC_ROWS, (asset_id,))
    return list(await cur.fetchall())
