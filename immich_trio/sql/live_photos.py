"""Queries of live photos and motion photos: the CID match, the link, the hidden motion part.

Immich's rules (metadata.service.ts ``linkLivePhotos`` / ``applyMotionPhotos``,
pipeline.md §6): a photo and a video of the same owner with the same
``asset_exif.livePhotoCID`` are linked; a motion photo's embedded video is a hidden VIDEO
asset found again by its SHA-1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

Conn = AsyncConnection[Any]

LINK_STATE = """
SELECT id, type, "ownerId", "libraryId", "isExternal", "livePhotoVideoId"
FROM asset WHERE id = %s
"""

# The other half: same owner, the other type, same CID (Immich's findLivePhotoMatch takes
# the library too but does not filter on it; neither do we).
LIVE_PHOTO_MATCH = """
SELECT a.id FROM asset a JOIN asset_exif e ON e."assetId" = a.id
WHERE a.id <> %(id)s AND a."ownerId" = %(ownerId)s AND a.type = %(type)s AND e."livePhotoCID" = %(cid)s
ORDER BY a."createdAt", a.id
LIMIT 1
"""

# Serialises the link per owner and CID: a photo and its video extracted at the same time
# would otherwise each miss the other's uncommitted exif. The second to take the lock waits
# for the first's commit, and its match query (READ COMMITTED) then sees that exif.
LOCK_CID = "SELECT pg_advisory_xact_lock(hashtextextended('live-photo ' || %s::text || ' ' || %s, 0))"

SET_LIVE_PHOTO_VIDEO = 'UPDATE asset SET "livePhotoVideoId" = %s WHERE id = %s'
HIDE = "UPDATE asset SET visibility = 'hidden' WHERE id = %s AND visibility <> 'hidden'"
HIDE_IF_ON_TIMELINE = "UPDATE asset SET visibility = 'hidden' WHERE id = %s AND visibility = 'timeline'"
REMOVE_FROM_ALBUMS = 'DELETE FROM album_asset WHERE "assetId" = %s'

BY_CHECKSUM = """
SELECT id, visibility, "originalPath" FROM asset
WHERE "ownerId" = %s AND checksum = %s AND "libraryId" IS NOT DISTINCT FROM %s
ORDER BY "createdAt", id
LIMIT 1
"""

INSERT_MOTION_VIDEO = """
INSERT INTO asset (
    id, "ownerId", "libraryId", type, "originalPath", "originalFileName", checksum,
    "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", visibility
) VALUES (
    %(id)s, %(ownerId)s, %(libraryId)s, 'VIDEO', %(originalPath)s, %(originalFileName)s,
    %(checksum)s, 'sha1', %(fileCreatedAt)s, %(fileModifiedAt)s, %(localDateTime)s, 'hidden'
)
ON CONFLICT DO NOTHING
RETURNING id
"""

# Immich's updateUsage: no quota check (the still was already accepted).
ADD_USAGE = 'UPDATE "user" SET "quotaUsageInBytes" = "quotaUsageInBytes" + %s WHERE id = %s'


async def link_state(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(LINK_STATE, (asset_id,))
    return await cur.fetchone()


async def lock_cid(conn: Conn, owner_id: UUID | str, cid: str) -> None:
    """Hold the owner's CID until the transaction ends (see ``LOCK_CID``)."""
    await conn.execute(LOCK_CID, (owner_id, cid))


async def live_photo_match(
    conn: Conn, *, asset_id: UUID | str, owner_id: UUID | str, other_type: str, cid: str
) -> UUID | None:
    cur = await conn.execute(LIVE_PHOTO_MATCH, {"id": asset_id, "ownerId": owner_id, "type": other_type, "cid": cid})
    row = await cur.fetchone()
    return row["id"] if row else None


async def set_live_photo_video(conn: Conn, photo_id: UUID | str, video_id: UUID | str) -> None:
    await conn.execute(SET_LIVE_PHOTO_VIDEO, (video_id, photo_id))


async def hide(conn: Conn, asset_id: UUID | str, *, only_from_timeline: bool = False) -> bool:
    """Set the asset hidden; True if that changed it."""
    cur = await conn.execute(HIDE_IF_ON_TIMELINE if only_from_timeline else HIDE, (asset_id,))
    return cur.rowcount > 0


async def remove_from_albums(conn: Conn, asset_id: UUID | str) -> None:
    await conn.execute(REMOVE_FROM_ALBUMS, (asset_id,))


async def by_checksum(
    conn: Conn, owner_id: UUID | str, checksum: bytes, library_id: UUID | None
) -> dict[str, Any] | None:
    """The owner's asset with this SHA-1 in the same library (or among uploads), any state."""
    cur = await conn.execute(BY_CHECKSUM, (owner_id, checksum, library_id))
    return await cur.fetchone()


async def insert_motion_video(
    conn: Conn,
    *,
    asset_id: UUID,
    owner_id: UUID | str,
    library_id: UUID | None,
    original_path: str,
    original_file_name: str,
    checksum: bytes,
    file_created_at: datetime,
    file_modified_at: datetime,
    local_date_time: datetime,
) -> bool:
    """Insert the hidden VIDEO asset of a motion photo; False if its checksum was taken."""
    cur = await conn.execute(
        INSERT_MOTION_VIDEO,
        {
            "id": asset_id,
            "ownerId": owner_id,
            "libraryId": library_id,
            "originalPath": original_path,
            "originalFileName": original_file_name,
            "checksum": checksum,
            "fileCreatedAt": file_created_at,
            "fileModifiedAt": file_modified_at,
            "localDateTime": local_date_time,
        },
    )
    return await cur.fetchone() is not None


async def add_usage(conn: Conn, owner_id: UUID | str, size: int) -> None:
    await conn.execute(ADD_USAGE, (size, owner_id))
    await publish_credentials_changed(conn, owner_id)
