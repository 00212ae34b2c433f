"""Queries of the ``SidecarWrite`` job: what it writes into an asset's XMP sidecar (the user's
locked edits) and where the sidecar is recorded (``asset_file`` of type ``sidecar``).

The record runs inside the dispatcher's completion transaction (``JobResult.apply``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

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
