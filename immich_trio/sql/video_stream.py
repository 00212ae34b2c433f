"""HLS streaming rows: ``video_stream_session`` (one per played stream, with a lease) and the
video facts a stream is planned from (``asset_exif``, ``asset_video``, ``asset_keyframe``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

# Immich's withVideoStream/withVideoPackets: display size from asset_exif, the rotation from
# its orientation (6 = 90° clockwise → -90, 8 → 90, 3 → 180), timing from asset_keyframe.
_STREAM_COLUMNS = """
    asset.id AS "assetId", asset."ownerId", asset."originalPath",
    asset_exif."exifImageWidth" AS width, asset_exif."exifImageHeight" AS height,
    CASE asset_exif.orientation WHEN '6' THEN -90 WHEN '8' THEN 90 WHEN '3' THEN 180 ELSE 0 END AS rotation,
    asset_video."timeBase", asset_keyframe."packetCount", asset_keyframe."totalDuration",
    asset_keyframe."outputFrames"
"""
_STREAM_JOINS = """
    JOIN asset_exif ON asset_exif."assetId" = asset.id
    JOIN asset_video ON asset_video."assetId" = asset.id
    JOIN asset_keyframe ON asset_keyframe."assetId" = asset.id
"""

STREAM_OF_ASSET = f"""
SELECT {_STREAM_COLUMNS} FROM asset {_STREAM_JOINS}
WHERE asset.id = %s AND asset_exif."exifImageWidth" > 0 AND asset_exif."exifImageHeight" > 0
  AND asset_keyframe."totalDuration" > 0 AND asset_keyframe."outputFrames" > 0
"""

STREAM_OF_SESSION = f"""
SELECT {_STREAM_COLUMNS}, video_stream_session.id AS "sessionId"
FROM asset {_STREAM_JOINS}
JOIN video_stream_session ON video_stream_session."assetId" = asset.id
WHERE asset.id = %s AND video_stream_session.id = %s AND video_stream_session."expiresAt" > %s
  AND asset_exif."exifImageWidth" > 0 AND asset_exif."exifImageHeight" > 0
  AND asset_keyframe."totalDuration" > 0 AND asset_keyframe."outputFrames" > 0
"""

CREATE_SESSION = """
INSERT INTO video_stream_session (id, "assetId", "expiresAt") VALUES (%s, %s, %s)
"""

LIVE_SESSION = """
SELECT s.id, s."assetId", s."expiresAt", asset."ownerId"
FROM video_stream_session s JOIN asset ON asset.id = s."assetId"
WHERE s.id = %s AND s."expiresAt" > %s
"""

SESSION_OWNER = """
SELECT s.id, asset."ownerId" FROM video_stream_session s JOIN asset ON asset.id = s."assetId" WHERE s.id = %s
"""

EXTEND_SESSION = """UPDATE video_stream_session SET "expiresAt" = %s WHERE id = %s"""

DELETE_SESSION = """DELETE FROM video_stream_session WHERE id = %s"""

EXPIRED_SESSIONS = """
SELECT s.id, asset."ownerId"
FROM video_stream_session s JOIN asset ON asset.id = s."assetId"
WHERE s."expiresAt" <= %s
"""

DELETE_SESSIONS = """DELETE FROM video_stream_session WHERE id = ANY(%s)"""


async def _one(conn: Conn, query: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    cur = await conn.execute(query, params)
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def stream_of_asset(conn: Conn, asset_id: UUID) -> dict[str, Any] | None:
    """The facts a main playlist needs; None until metadata extraction stored them."""
    return await _one(conn, STREAM_OF_ASSET, (asset_id,))


async def stream_of_session(
    conn: Conn, asset_id: UUID, session_id: UUID, now: datetime
) -> dict[str, Any] | None:
    """The same facts through a live session of that asset; None when either is missing."""
    return await _one(conn, STREAM_OF_SESSION, (asset_id, session_id, now))


async def create_session(
    conn: Conn, session_id: UUID, asset_id: UUID, expires_at: datetime
) -> None:
    await conn.execute(CREATE_SESSION, (session_id, asset_id, expires_at))


async def live_session(conn: Conn, session_id: UUID, now: datetime) -> dict[str, Any] | None:
    return await _one(conn, LIVE_SESSION, (session_id, now))


async def session_owner(conn: Conn, session_id: UUID) -> str | None:
    row = await _one(conn, SESSION_OWNER, (session_id,))
    return None if row is None else str(row["ownerId"])


async def extend_session(conn: Conn, session_id: UUID, expires_at: datetime) -> None:
    await conn.execute(EXTEND_SESSION, (expires_at, session_id))


async def delete_session(conn: Conn, session_id: UUID) -> None:
    await conn.execute(DELETE_SESSION, (session_id,))


async def expired_sessions(conn: Conn, now: datetime) -> list[tuple[str, str]]:
    """``(session id, asset owner id)`` of every session whose lease has run out."""
    cur = await conn.execute(EXPIRED_SESSIONS, (now,))
    return [(str(row["id"]), str(row["ownerId"])) for row in await cur.fetchall()]


async def delete_sessions(conn: Conn, session_ids: list[str]) -> None:
    await conn.execute(DELETE_SESSIONS, ([UUID(i) for i in session_ids],))
