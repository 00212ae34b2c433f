"""OCR rows: ``asset_ocr`` (one box of text each) and ``ocr_search`` (one tokenised text per
asset, trigram-indexed), the job status's ``ocrAt``, and the ``OcrQueueAll`` expansion.

Immich's ``OcrRepository.upsert``: the asset's boxes are replaced, and its search text is set
to the tokens of every text joined by spaces (``tokenizeForSearch``: CJK runs as overlapping
pairs, everything else split on control characters and spaces), or removed when nothing was
read. The metadata search's ``ocr`` filter tokenises the query the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import JobName
from immich_trio.sql.jobs.enqueue import enqueue_selected

Conn = AsyncConnection[Any]

FOR_OCR = """
SELECT a.id, a.visibility,
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'preview' AND NOT f."isEdited" LIMIT 1) AS "previewPath"
FROM asset a WHERE a.id = %s
"""
DELETE_BOXES = 'DELETE FROM asset_ocr WHERE "assetId" = %s'
INSERT_BOXES = """
INSERT INTO asset_ocr ("assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text)
SELECT %(asset)s, b.x1, b.y1, b.x2, b.y2, b.x3, b.y3, b.x4, b.y4, b.box_score, b.text_score, b.text
FROM unnest(%(x1)s::real[], %(y1)s::real[], %(x2)s::real[], %(y2)s::real[], %(x3)s::real[],
            %(y3)s::real[], %(x4)s::real[], %(y4)s::real[], %(box_score)s::real[],
            %(text_score)s::real[], %(text)s::text[])
     WITH ORDINALITY AS b(x1, y1, x2, y2, x3, y3, x4, y4, box_score, text_score, text, n)
ORDER BY b.n
"""
UPSERT_SEARCH = """
INSERT INTO ocr_search ("assetId", text) VALUES (%s, %s)
ON CONFLICT ("assetId") DO UPDATE SET text = EXCLUDED.text
"""
DELETE_SEARCH = 'DELETE FROM ocr_search WHERE "assetId" = %s'
OCR_AT = """
INSERT INTO asset_job_status ("assetId", "ocrAt") VALUES (%s, %s)
ON CONFLICT ("assetId") DO UPDATE SET "ocrAt" = EXCLUDED."ocrAt"
"""
SEARCH_TEXT = 'SELECT text FROM ocr_search WHERE "assetId" = %s'
# every box, visible or not, top to bottom then left to right (the order their text is searched in)
ALL_BOXES = """
SELECT id, x1, y1, x2, y2, x3, y3, x4, y4, text, "isVisible" FROM asset_ocr
WHERE "assetId" = %s ORDER BY y1, x1, id
"""
SET_VISIBLE = 'UPDATE asset_ocr SET "isVisible" = %s WHERE "assetId" = %s AND id = ANY(%s::uuid[])'
SET_SEARCH = 'UPDATE ocr_search SET text = %s WHERE "assetId" = %s'
# OcrQueueAll: visible live assets with a preview, not yet read (all of them with force).
_INSERT_MISSING = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a."deletedAt" IS NULL AND a.visibility <> 'hidden'
  AND EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id AND f.type = 'preview')
  AND (%(force)s OR NOT EXISTS (SELECT 1 FROM asset_job_status j
                                WHERE j."assetId" = a.id AND j."ocrAt" IS NOT NULL))
ORDER BY a."createdAt", a.id
"""


def _is_cjk(c: str) -> bool:
    code = ord(c)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0x3040 <= code <= 0x309F
        or 0x30A0 <= code <= 0x30FF
        or 0x3400 <= code <= 0x4DBF
    )


def search_tokens(text: str) -> list[str]:
    """Immich's ``tokenizeForSearch``: runs of CJK characters as overlapping pairs (a lone one
    as itself), other runs split at characters up to U+0020 (controls and space)."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if ord(text[i]) <= 32:
            i += 1
            continue
        start = i
        if _is_cjk(text[i]):
            while i < n and _is_cjk(text[i]):
                i += 1
            run = text[start:i]
            tokens.extend([run] if len(run) == 1 else [run[k : k + 2] for k in range(len(run) - 1)])
        else:
            while i < n and ord(text[i]) > 32 and not _is_cjk(text[i]):
                i += 1
            tokens.append(text[start:i])
    return tokens


async def asset_for_ocr(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_OCR, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def replace_boxes(
    conn: Conn,
    asset_id: UUID | str,
    *,
    boxes: Sequence[Sequence[float]],
    box_scores: Sequence[float],
    texts: Sequence[str],
    text_scores: Sequence[float],
    at: datetime,
) -> None:
    """The asset's OCR result: boxes (8 numbers each) replaced, search text set or removed,
    ``ocrAt`` stamped. Call inside the job's transaction."""
    await conn.execute(DELETE_BOXES, (asset_id,))
    if texts:
        columns = {name: [box[i] for box in boxes] for i, name in enumerate(("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"))}
        await conn.execute(
            INSERT_BOXES,
            {"asset": asset_id, **columns, "box_score": list(box_scores), "text_score": list(text_scores), "text": list(texts)},
        )
        search = " ".join(token for text in texts for token in search_tokens(text))
        await conn.execute(UPSERT_SEARCH, (asset_id, search))
    else:
        await conn.execute(DELETE_SEARCH, (asset_id,))
    await conn.execute(OCR_AT, (asset_id, at))


async def all_boxes(conn: Conn, asset_id: UUID | str) -> list[dict[str, Any]]:
    cur = await conn.execute(ALL_BOXES, (asset_id,))
    return list(await cur.fetchall())


async def set_visibility(
    conn: Conn, asset_id: UUID | str, *, visible: Sequence[str], hidden: Sequence[str], texts: Sequence[str]
) -> None:
    """Immich's ``updateOcrVisibilities``: the boxes shown or hidden, and the asset's search
    text (if it has one) made of the visible ``texts``, tokenised as when it was written."""
    if visible:
        await conn.execute(SET_VISIBLE, (True, asset_id, list(visible)))
    if hidden:
        await conn.execute(SET_VISIBLE, (False, asset_id, list(hidden)))
    search = " ".join(token for text in texts for token in search_tokens(text))
    await conn.execute(SET_SEARCH, (search, asset_id))


async def search_text(conn: Conn, asset_id: UUID | str) -> str | None:
    cur = await conn.execute(SEARCH_TEXT, (asset_id,))
    row = await cur.fetchone()
    return str(row["text"]) if row is not None else None


async def enqueue_missing(conn: Conn, *, force: bool) -> int:
    """``OcrQueueAll``: one ``Ocr`` per visible asset with a preview not yet read (every one
    with ``force``, whose earlier results are removed first, as Immich empties both tables;
    deleted rather than truncated, so that the sync stream's audit hears of them)."""
    if force:
        await conn.execute("DELETE FROM asset_ocr")
        await conn.execute("DELETE FROM ocr_search")
    return await enqueue_selected(conn, _INSERT_MISSING, JobName.OCR, {"force": force})
