"""Face detection's rows: the asset and its preview, every face the asset has, the refresh of
its machine-learning faces with their ``face_search`` embeddings, ``facesRecognizedAt``, and
the expansion of ``AssetDetectFacesQueueAll`` (Immich's ``streamForDetectFacesJob``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql.jobs.model import notify

Conn = AsyncConnection[Any]
Row = dict[str, Any]

# The preview as Immich's getForDetectFacesJob takes it: the edited one first when there is one.
FOR_DETECTION = """
SELECT a.id, a.visibility,
       (SELECT f.path FROM asset_file f WHERE f."assetId" = a.id AND f.type = 'preview'
        ORDER BY f."isEdited" DESC LIMIT 1) AS "previewPath"
FROM asset a WHERE a.id = %s
"""
# Every face of the asset, hidden and soft-deleted ones included (withFaces(eb, true, true)).
FACES_OF_ASSET = """
SELECT id, "personId", "sourceType"::text AS "sourceType", "imageWidth", "imageHeight",
       "boundingBoxX1", "boundingBoxY1", "boundingBoxX2", "boundingBoxY2"
FROM asset_face WHERE "assetId" = %s ORDER BY id
FOR UPDATE
"""
INSERT_FACE = """
INSERT INTO asset_face (id, "assetId", "imageWidth", "imageHeight",
  "boundingBoxX1", "boundingBoxY1", "boundingBoxX2", "boundingBoxY2", "sourceType")
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'machine-learning')
"""
DELETE_FACES = 'DELETE FROM asset_face WHERE id = ANY(%s::uuid[])'
UPSERT_EMBEDDING = """
INSERT INTO face_search ("faceId", embedding) VALUES (%s, %s::vector)
ON CONFLICT ("faceId") DO UPDATE SET embedding = EXCLUDED.embedding
"""
MARK_RECOGNIZED = """
INSERT INTO asset_job_status ("assetId", "facesRecognizedAt") VALUES (%s, %s)
ON CONFLICT ("assetId") DO UPDATE SET "facesRecognizedAt" = EXCLUDED."facesRecognizedAt"
"""
DIMENSIONS = """
SELECT atttypmod AS dims FROM pg_attribute
WHERE attrelid = 'face_search'::regclass AND attname = 'embedding'
"""
DELETE_ML_FACES = "DELETE FROM asset_face WHERE \"sourceType\" = 'machine-learning'"
# assetsWithPreviews: not hidden, not trashed, with a job-status row and a preview; newest
# first; without force only those never run (``force`` false; ``null`` takes them all).
_INSERT_FOR_ASSETS = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a JOIN asset_job_status j ON j."assetId" = a.id
WHERE a.visibility <> 'hidden' AND a."deletedAt" IS NULL
  AND EXISTS (SELECT 1 FROM asset_file f WHERE f."assetId" = a.id AND f.type = 'preview')
  AND (%(force)s IS DISTINCT FROM false OR j."facesRecognizedAt" IS NULL)
ORDER BY a."fileCreatedAt" DESC, a.id
"""


async def asset_for_detection(conn: Conn, asset_id: UUID | str) -> Row | None:
    cur = await conn.execute(FOR_DETECTION, (asset_id,))
    row: Row | None = await cur.fetchone()
    return row


async def faces_of_asset(conn: Conn, asset_id: UUID | str) -> list[Row]:
    """Every face of the asset, locked for the caller's transaction."""
    cur = await conn.execute(FACES_OF_ASSET, (asset_id,))
    return await cur.fetchall()


async def dimensions(conn: Conn) -> int:
    """The size of ``face_search.embedding`` (512 for ArcFace)."""
    cur = await conn.execute(DIMENSIONS)
    row = await cur.fetchone()
    return int(row["dims"]) if row is not None else 0


async def refresh_faces(
    conn: Conn,
    asset_id: UUID | str,
    *,
    image_width: int,
    image_height: int,
    added: Sequence[tuple[UUID, tuple[int, int, int, int]]],
    removed: Sequence[UUID],
    embeddings: Sequence[tuple[UUID, str]],
) -> None:
    """Immich's ``refreshFaces``: new faces in, removed faces out (their embeddings go with
    them), embeddings stored for the new and re-found faces."""
    for face_id, (x1, y1, x2, y2) in added:
        await conn.execute(INSERT_FACE, (face_id, asset_id, image_width, image_height, x1, y1, x2, y2))
    if removed:
        await conn.execute(DELETE_FACES, ([str(f) for f in removed],))
    for face_id, embedding in embeddings:
        await conn.execute(UPSERT_EMBEDDING, (face_id, embedding))


async def mark_recognized(conn: Conn, asset_id: UUID | str, when: datetime) -> None:
    await conn.execute(MARK_RECOGNIZED, (asset_id, when))


async def delete_machine_learning_faces(conn: Conn) -> int:
    """Every machine-learning face of every asset (and with them their embeddings)."""
    cur = await conn.execute(DELETE_ML_FACES)
    return max(cur.rowcount, 0)


async def enqueue_detection(conn: Conn, *, force: bool | None) -> int:
    """``AssetDetectFaces {id}`` per asset with a preview (only those never run when ``force``
    is false; true or absent takes them all, as Immich's ``streamForDetectFacesJob``)."""
    name = JobName.ASSET_DETECT_FACES
    queue = QUEUE_OF[name].value
    cur = await conn.execute(
        _INSERT_FOR_ASSETS, {"queue": queue, "name": name.value, "force": force}
    )
    count = max(cur.rowcount, 0)
    if count:
        await notify(conn, queue)
    return count
