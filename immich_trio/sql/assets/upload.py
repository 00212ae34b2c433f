"""Queries of an upload: duplicate checks, quota, the asset row and its files, recovery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from immich_trio.sql.credential_cache import publish_credentials_changed

UPLOAD_DUPLICATE = """
SELECT id FROM asset WHERE "ownerId" = %s AND checksum = %s AND "libraryId" IS NULL
"""

# Any of the owner's assets, library assets included (bulk-upload-check).
BY_CHECKSUMS = """
SELECT id, checksum, "deletedAt" FROM asset WHERE "ownerId" = %s AND checksum = ANY(%s)
ORDER BY "libraryId" NULLS FIRST, "createdAt"
"""

# Conditional, so two concurrent uploads cannot both squeeze under the quota.
ADD_QUOTA_USAGE = """
UPDATE "user" SET "quotaUsageInBytes" = "quotaUsageInBytes" + %(size)s
WHERE id = %(id)s
  AND ("quotaSizeInBytes" IS NULL OR "quotaUsageInBytes" + %(size)s <= "quotaSizeInBytes")
RETURNING id
"""

# The partial unique index UQ_assets_owner_checksum is the arbiter: a duplicate inserts
# nothing and returns no row, without aborting the transaction.
INSERT_UPLOADED = """
INSERT INTO asset (
    id, "ownerId", "libraryId", type, "originalPath", "originalFileName", checksum,
    "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "isFavorite",
    duration, visibility, "livePhotoVideoId"
) VALUES (
    %(id)s, %(ownerId)s, NULL, %(type)s, %(originalPath)s, %(originalFileName)s, %(checksum)s,
    'sha1', %(fileCreatedAt)s, %(fileModifiedAt)s, %(fileCreatedAt)s, %(isFavorite)s,
    %(duration)s, %(visibility)s, %(livePhotoVideoId)s
)
ON CONFLICT ("ownerId", checksum) WHERE "libraryId" IS NULL DO NOTHING
RETURNING id
"""

INSERT_EXIF_SIZE = 'INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)'
INSERT_FILE = 'INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)'
UPSERT_METADATA = """
INSERT INTO asset_metadata ("assetId", key, value) VALUES (%s, %s, %s)
ON CONFLICT ("assetId", key) DO UPDATE SET value = EXCLUDED.value
"""

LIVE_PHOTO_PART = 'SELECT id, type, "ownerId", visibility FROM asset WHERE id = %s'
HIDE_ASSET = "UPDATE asset SET visibility = 'hidden' WHERE id = %s"

# Where each committed staging file belongs: the original and, if any, the sidecar.
STAGED_TARGETS = """
SELECT a.id, a."originalPath",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath"
FROM asset a WHERE a.id = ANY(%s)
"""


async def upload_duplicate(conn: AsyncConnection[Any], owner_id: UUID | str, checksum: bytes) -> UUID | None:
    """The owner's uploaded (non-library) asset with this checksum, in any state."""
    cur = await conn.execute(UPLOAD_DUPLICATE, (owner_id, checksum))
    row = await cur.fetchone()
    return row["id"] if row else None


async def by_checksums(
    conn: AsyncConnection[Any], owner_id: UUID | str, checksums: Sequence[bytes]
) -> list[dict[str, Any]]:
    cur = await conn.execute(BY_CHECKSUMS, (owner_id, list(checksums)))
    return await cur.fetchall()


async def add_quota_usage(conn: AsyncConnection[Any], user_id: UUID | str, size: int) -> bool:
    """Add ``size`` to the user's usage; False (nothing changed) if that would pass the quota."""
    cur = await conn.execute(ADD_QUOTA_USAGE, {"id": user_id, "size": size})
    if await cur.fetchone() is None:
        return False
    await publish_credentials_changed(conn, user_id)
    return True


async def insert_uploaded(
    conn: AsyncConnection[Any],
    *,
    asset_id: UUID,
    owner_id: UUID | str,
    asset_type: str,
    original_path: str,
    original_file_name: str,
    checksum: bytes,
    file_created_at: datetime,
    file_modified_at: datetime,
    is_favorite: bool,
    duration: int | None,
    visibility: str,
    live_photo_video_id: UUID | None,
) -> bool:
    """Insert an uploaded asset; False if the owner already has one with this checksum."""
    cur = await conn.execute(
        INSERT_UPLOADED,
        {
            "id": asset_id,
            "ownerId": owner_id,
            "type": asset_type,
            "originalPath": original_path,
            "originalFileName": original_file_name,
            "checksum": checksum,
            "fileCreatedAt": file_created_at,
            "fileModifiedAt": file_modified_at,
            "isFavorite": is_favorite,
            "duration": duration,
            "visibility": visibility,
            "livePhotoVideoId": live_photo_video_id,
        },
    )
    return await cur.fetchone() is not None


async def insert_exif_size(conn: AsyncConnection[Any], asset_id: UUID, size: int) -> None:
    await conn.execute(INSERT_EXIF_SIZE, (asset_id, size))


async def insert_file(conn: AsyncConnection[Any], asset_id: UUID, file_type: str, path: str) -> None:
    await conn.execute(INSERT_FILE, (asset_id, file_type, path))


async def upsert_metadata(
    conn: AsyncConnection[Any], asset_id: UUID, items: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    latest = dict(items)  # one row per key: the last value given wins
    for key, value in latest.items():
        await conn.execute(UPSERT_METADATA, (asset_id, key, Jsonb(value)))


async def live_photo_part(conn: AsyncConnection[Any], asset_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(LIVE_PHOTO_PART, (asset_id,))
    return await cur.fetchone()


async def hide(conn: AsyncConnection[Any], asset_id: UUID) -> None:
    await conn.execute(HIDE_ASSET, (asset_id,))


async def staged_targets(conn: AsyncConnection[Any], asset_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    """``{assetId: {"originalPath", "sidecarPath"}}`` for those of ``asset_ids`` that exist."""
    cur = await conn.execute(STAGED_TARGETS, (list(asset_ids),))
    return {row["id"]: row for row in await cur.fetchall()}
