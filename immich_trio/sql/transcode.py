"""Queries of video transcoding (``AssetEncodeVideo``, ``AssetEncodeVideoQueueAll``): the
asset and its encoded file, the ``encoded_video`` row, and the queue-all expansion.

Writers run in the dispatcher's completion transaction; ``lock_video`` first, so an asset
deleted meanwhile turns the write into a no-op.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql.jobs import notify

Conn = AsyncConnection[Any]

FOR_VIDEO_CONVERSION = """
SELECT a.id, a."ownerId", a."originalPath", a.visibility,
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'encoded_video' AND NOT f."isEdited") AS "encodedVideoPath"
FROM asset a WHERE a.id = %s AND a.type = 'VIDEO'
"""
LOCK_VIDEO = "SELECT id FROM asset WHERE id = %s AND type = 'VIDEO' FOR UPDATE"
UPSERT_ENCODED = """
INSERT INTO asset_file ("assetId", type, path, "isEdited", "isProgressive", "isTransparent")
VALUES (%s, 'encoded_video', %s, false, false, false)
ON CONFLICT ("assetId", type, "isEdited") DO UPDATE SET path = EXCLUDED.path
"""
DELETE_ENCODED = """
DELETE FROM asset_file WHERE "assetId" = %s AND type = 'encoded_video' AND NOT "isEdited" RETURNING path
"""
# Immich's streamForVideoConversion: every video with force, else the visible ones without
# an encoded file; never trashed ones.
INSERT_MISSING = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a.type = 'VIDEO' AND a."deletedAt" IS NULL
  AND (%(force)s OR (a.visibility <> 'hidden' AND NOT EXISTS (
        SELECT 1 FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'encoded_video' AND NOT f."isEdited")))
ORDER BY a."createdAt", a.id
"""


async def asset_for_video_conversion(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The video (id, owner, original, visibility, current encoded path); None if it is
    gone or not a video."""
    cur = await conn.execute(FOR_VIDEO_CONVERSION, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def lock_video(conn: Conn, asset_id: UUID | str) -> bool:
    cur = await conn.execute(LOCK_VIDEO, (asset_id,))
    return await cur.fetchone() is not None


async def set_encoded_video(conn: Conn, asset_id: UUID | str, path: str) -> None:
    await conn.execute(UPSERT_ENCODED, (asset_id, path))


async def forget_encoded_video(conn: Conn, asset_id: UUID | str) -> str | None:
    """Delete the asset's ``encoded_video`` row; the path it named, if any."""
    cur = await conn.execute(DELETE_ENCODED, (asset_id,))
    row = await cur.fetchone()
    return None if row is None else str(row["path"])


async def enqueue_missing_encodes(conn: Conn, *, force: bool) -> int:
    """``AssetEncodeVideo`` per video (see ``INSERT_MISSING``); the number queued."""
    name = JobName.ASSET_ENCODE_VIDEO
    queue = QUEUE_OF[name].value
    cur = await conn.execute(INSERT_MISSING, {"queue": queue, "name": name.value, "force": force})
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount
