"""Queries of the ``sidecar`` queue: what ``SidecarWrite`` writes into an asset's XMP sidecar
(the user's locked edits), where the sidecar is recorded (``asset_file`` of type ``sidecar``),
and ``SidecarQueueAll``/``SidecarCheck``'s discovery of sidecars found beside the originals.

The writes run inside the dispatcher's completion transaction (``JobResult.apply``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql import jobs as jobs_q

Conn = AsyncConnection[Any]

FOR_SIDECAR_WRITE = """
SELECT a.id, a."ownerId", a."originalPath",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath",
       e.description, e."dateTimeOriginal", e."timeZone", e.latitude, e.longitude, e.rating,
       e.tags, coalesce(e."lockedProperties", '{}') AS "lockedProperties"
FROM asset a LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE a.id = %s
"""

RECORD_SIDECAR = """
INSERT INTO asset_file ("assetId", type, path)
SELECT id, 'sidecar', %(path)s FROM asset WHERE id = %(asset)s
ON CONFLICT ("assetId", type, "isEdited") DO NOTHING
"""


async def for_sidecar_write(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The asset's paths, exif edits and locked properties; None if it is gone."""
    cur = await conn.execute(FOR_SIDECAR_WRITE, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def record_sidecar(conn: Conn, asset_id: UUID | str, path: str) -> None:
    """The asset's sidecar is ``path`` (kept if it has one already; nothing if it is gone)."""
    await conn.execute(RECORD_SIDECAR, {"asset": asset_id, "path": path})


FOR_SIDECAR_CHECK = """
SELECT a.id, a."originalPath",
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'sidecar' AND NOT f."isEdited") AS "sidecarPath"
FROM asset a
WHERE a.id = %s
"""

SET_SIDECAR = """
INSERT INTO asset_file ("assetId", type, path)
SELECT id, 'sidecar', %(path)s FROM asset WHERE id = %(asset)s
ON CONFLICT ("assetId", type, "isEdited") DO UPDATE SET path = EXCLUDED.path
WHERE asset_file.path IS DISTINCT FROM EXCLUDED.path
"""

FORGET_SIDECAR = """
DELETE FROM asset_file WHERE "assetId" = %(asset)s AND type = 'sidecar' AND path = %(path)s
"""

# Immich's ``streamForSidecar``: every asset with ``force``, else those with no sidecar row.
_QUEUE_SIDECAR_CHECKS = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE %(force)s OR NOT EXISTS (SELECT 1 FROM asset_file f
                               WHERE f."assetId" = a.id AND f.type = 'sidecar')
ORDER BY a."createdAt", a.id
"""


async def for_sidecar_check(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The asset's original and recorded sidecar paths (``sidecarPath`` None if it has
    none); None if the asset is gone."""
    cur = await conn.execute(FOR_SIDECAR_CHECK, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def set_sidecar(conn: Conn, asset_id: UUID | str, path: str) -> None:
    """The asset's sidecar is now ``path`` (replacing the recorded one; nothing if the asset
    is gone)."""
    await conn.execute(SET_SIDECAR, {"asset": asset_id, "path": path})


async def forget_sidecar(conn: Conn, asset_id: UUID | str, path: str) -> None:
    """The recorded sidecar ``path`` has vanished: drop its row (only if still that path)."""
    await conn.execute(FORGET_SIDECAR, {"asset": asset_id, "path": path})


async def queue_sidecar_checks(conn: Conn, *, force: bool) -> int:
    """One ``SidecarCheck`` per asset without a sidecar (every asset with ``force``), in one
    statement; the number queued."""
    name = JobName.SIDECAR_CHECK
    queue = QUEUE_OF[name].value
    cur = await conn.execute(_QUEUE_SIDECAR_CHECKS, {"queue": queue, "name": name.value, "force": force})
    if cur.rowcount:
        await jobs_q.notify(conn, queue)
    return cur.rowcount
