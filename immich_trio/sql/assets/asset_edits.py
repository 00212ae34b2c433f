"""Queries of asset edits (``asset_edit`` rows, in ``sequence``) and of OCR boxes (``asset_ocr``).

Inserting or deleting edit rows sets ``asset."isEdited"`` through the schema's triggers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]

EDITS = """
SELECT id, action, parameters FROM asset_edit WHERE "assetId" = %s ORDER BY sequence
"""
DELETE_EDITS = 'DELETE FROM asset_edit WHERE "assetId" = %s'
INSERT_EDITS = """
INSERT INTO asset_edit ("assetId", action, parameters, sequence)
SELECT %(id)s, e.action, e.parameters, e.ord - 1
FROM unnest(%(actions)s::varchar[], %(parameters)s::jsonb[]) WITH ORDINALITY AS e(action, parameters, ord)
RETURNING id, action, parameters, sequence
"""

FOR_EDIT = """
SELECT a.id, a.type, a."livePhotoVideoId", a."originalPath", a."originalFileName",
       e."exifImageWidth", e."exifImageHeight", e.orientation, e."projectionType"
FROM asset a LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE a.id = %s
"""

OCR = """
SELECT id, "assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text
FROM asset_ocr WHERE "assetId" = %s AND "isVisible"
"""


async def edits(conn: Conn, asset_id: UUID | str) -> list[dict[str, Any]]:
    """The asset's edits in order: id, action, parameters."""
    cur = await conn.execute(EDITS, (asset_id,))
    return list(await cur.fetchall())


async def replace_edits(
    conn: Conn, asset_id: UUID, new_edits: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Replace the asset's edits with ``new_edits`` (action, parameters); the rows written."""
    await conn.execute(DELETE_EDITS, (asset_id,))
    if not new_edits:
        return []
    cur = await conn.execute(
        INSERT_EDITS,
        {
            "id": asset_id,
            "actions": [e["action"] for e in new_edits],
            "parameters": [Jsonb(e["parameters"]) for e in new_edits],
        },
    )
    return sorted(await cur.fetchall(), key=lambda r: r["sequence"])


async def asset_for_edit(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_EDIT, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def ocr_boxes(conn: Conn, asset_id: UUID | str) -> list[dict[str, Any]]:
    """The asset's visible OCR boxes."""
    cur = await conn.execute(OCR, (asset_id,))
    return list(await cur.fetchall())


# -- what the edit render writes (inside the dispatcher's apply transaction) -----------------

UPSERT_EDITED_FILE = """
INSERT INTO asset_file ("assetId", type, path, "isEdited", "isProgressive", "isTransparent")
VALUES (%(assetId)s, %(type)s, %(path)s, true, %(isProgressive)s, %(isTransparent)s)
ON CONFLICT ("assetId", type, "isEdited") DO UPDATE SET
    path = EXCLUDED.path,
    "isProgressive" = EXCLUDED."isProgressive",
    "isTransparent" = EXCLUDED."isTransparent"
"""
DELETE_EDITED_FILES = """
DELETE FROM asset_file WHERE "assetId" = %s AND "isEdited" AND NOT (type = ANY(%s::varchar[]))
RETURNING path
"""
SET_RENDERED = """
UPDATE asset SET width = %(width)s, height = %(height)s,
    thumbhash = coalesce(%(thumbhash)s, thumbhash)
WHERE id = %(id)s
"""


async def upsert_edited_file(
    conn: Conn, asset_id: UUID | str, kind: str, path: str, *, is_progressive: bool, is_transparent: bool
) -> None:
    await conn.execute(
        UPSERT_EDITED_FILE,
        {"assetId": asset_id, "type": kind, "path": path, "isProgressive": is_progressive,
         "isTransparent": is_transparent},
    )


async def delete_edited_files(conn: Conn, asset_id: UUID | str, keep: Sequence[str] = ()) -> list[str]:
    """Remove the asset's edited file rows (but the ``keep`` types); their paths."""
    cur = await conn.execute(DELETE_EDITED_FILES, (asset_id, list(keep)))
    return [r["path"] for r in await cur.fetchall()]


async def set_rendered(
    conn: Conn, asset_id: UUID | str, width: int | None, height: int | None, thumbhash: bytes | None
) -> None:
    """The asset's displayed size (and thumbhash when given) after an edit render."""
    await conn.execute(SET_RENDERED, {"id": asset_id, "width": width, "height": height, "thumbhash": thumbhash})
