"""Queries of the trash: the ``/trash`` endpoints and the background jobs that hard-delete assets.

Job expansions are one ``INSERT … SELECT`` each, however many assets they cover; the
dispatchers are woken at commit through ``jobs.notify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql import stacks
from immich_trio.sql.credential_cache import publish_credentials_changed
from immich_trio.sql.jobs import notify

Conn = AsyncConnection[Any]

# -- the endpoints -----------------------------------------------------------------------

EMPTY = """
UPDATE asset SET status = 'deleted'
WHERE "ownerId" = %s AND status = 'trashed'
"""
RESTORE_ALL = """
UPDATE asset SET status = 'active', "deletedAt" = NULL
WHERE "ownerId" = %s AND status = 'trashed'
"""
RESTORE_IDS = """
UPDATE asset SET status = 'active', "deletedAt" = NULL
WHERE id = ANY(%s::uuid[]) AND status = 'trashed'
"""


async def empty(conn: Conn, owner_id: UUID | str) -> int:
    """Mark the owner's trashed assets ``deleted`` (``deletedAt`` kept); return how many."""
    cur = await conn.execute(EMPTY, (owner_id,))
    return cur.rowcount


async def restore_all(conn: Conn, owner_id: UUID | str) -> int:
    cur = await conn.execute(RESTORE_ALL, (owner_id,))
    return cur.rowcount


async def restore(conn: Conn, ids: Sequence[UUID]) -> int:
    """Bring trashed assets back (access is checked by the caller)."""
    cur = await conn.execute(RESTORE_IDS, (list(ids),))
    return cur.rowcount


# -- job expansions ----------------------------------------------------------------------

_ASSET_DELETE_QUEUE = QUEUE_OF[JobName.ASSET_DELETE].value
# Deduplicated per asset: emptying the trash twice queues each deletion once.
INSERT_ASSET_DELETES = """
INSERT INTO immich_trio.job (queue, name, data, "assetId", dedupe_key)
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text, 'deleteOnDisk', true), a.id,
       %(name)s || ':' || a.id::text
FROM asset a
WHERE {condition}
ORDER BY a."deletedAt", a.id
ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('waiting', 'active')
DO NOTHING
"""
_DELETED = "a.status = 'deleted'"
# Trashed longer than the retention (a retention of 0 covers every trashed asset).
_EXPIRED = """a.status = 'trashed' AND a."deletedAt" <= %(before)s"""


async def _insert_asset_deletes(conn: Conn, condition: str, params: dict[str, Any]) -> int:
    cur = await conn.execute(
        INSERT_ASSET_DELETES.format(condition=condition),
        {"queue": _ASSET_DELETE_QUEUE, "name": JobName.ASSET_DELETE.value, **params},
    )
    if cur.rowcount:
        await notify(conn, _ASSET_DELETE_QUEUE)
    return cur.rowcount


async def enqueue_deleted(conn: Conn) -> int:
    """``AssetDelete {id, deleteOnDisk: true}`` for every asset with status ``deleted``."""
    return await _insert_asset_deletes(conn, _DELETED, {})


async def enqueue_expired(conn: Conn, before: datetime) -> int:
    """``AssetDelete`` for every asset trashed at or before ``before``."""
    return await _insert_asset_deletes(conn, _EXPIRED, {"before": before})


def asset_delete_key(asset_id: str) -> str:
    """The dedupe key of ``AssetDelete`` for one asset, as the expansions above write it."""
    return f"{JobName.ASSET_DELETE.value}:{asset_id}"


# -- hard delete -------------------------------------------------------------------------

LOCK_ASSET = """
SELECT a.id, a."ownerId", a."originalPath", a."livePhotoVideoId", a."isExternal",
       a."libraryId", a.visibility, e."fileSizeInByte"
FROM asset a LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE a.id = %s
FOR UPDATE OF a
"""
ASSET_FILES = 'SELECT type, path FROM asset_file WHERE "assetId" = %s ORDER BY type, path'
DELETE_ASSET = "DELETE FROM asset WHERE id = %s"
SUBTRACT_USAGE = """
UPDATE "user" SET "quotaUsageInBytes" = greatest("quotaUsageInBytes" - %(size)s, 0)
WHERE id = %(id)s
"""
STILL_LINKED = 'SELECT 1 FROM asset WHERE "livePhotoVideoId" = %s LIMIT 1'


@attrs.frozen(kw_only=True)
class DeletedAsset:
    """What a hard delete removed from the database, and what is left to do on disk."""

    id: str
    owner_id: str
    files: tuple[str, ...]
    freed_bytes: int
    orphaned_video_id: str | None


async def delete_asset(conn: Conn, asset_id: str, *, delete_on_disk: bool) -> DeletedAsset | None:
    """Lock and delete one asset row (cascades and the audit trigger do the rest) and
    give its bytes back to the owner's usage. None if it is already gone.

    ``files``: the generated files always; the original and its sidecar only with
    ``delete_on_disk`` and never for external-library assets, whose files are the user's.
    """
    cur = await conn.execute(LOCK_ASSET, (asset_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    owns_original = delete_on_disk and not row["isExternal"] and row["libraryId"] is None
    cur = await conn.execute(ASSET_FILES, (asset_id,))
    files = [f["path"] for f in await cur.fetchall() if f["type"] != "sidecar" or owns_original]
    if owns_original:
        files.append(row["originalPath"])
    await stacks.release_primary(conn, asset_id)
    await conn.execute(DELETE_ASSET, (asset_id,))
    # Usage counts the user's own uploads, hidden motion parts excluded (users.SYNC_USAGE).
    counted = row["libraryId"] is None and row["visibility"] != "hidden"
    size = int(row["fileSizeInByte"] or 0) if counted else 0
    if size:
        await conn.execute(SUBTRACT_USAGE, {"size": size, "id": row["ownerId"]})
        await publish_credentials_changed(conn, row["ownerId"])
    video = row["livePhotoVideoId"]
    orphaned = None
    if video is not None:
        cur = await conn.execute(STILL_LINKED, (video,))
        orphaned = None if await cur.fetchone() is not None else str(video)
    return DeletedAsset(
        id=str(row["id"]),
        owner_id=str(row["ownerId"]),
        files=tuple(dict.fromkeys(p for p in files if p)),
        freed_bytes=size,
        orphaned_video_id=orphaned,
    )
