"""Faces (``asset_face``): an asset's faces, manual faces, deletes and reassignment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]
Row = dict[str, Any]

FACE_COLUMNS = (
    'f.id, f."assetId", f."personId", f."imageWidth", f."imageHeight", f."boundingBoxX1",'
    ' f."boundingBoxY1", f."boundingBoxX2", f."boundingBoxY2", f."sourceType"'
)
_PERSON_JSON = """
(SELECT to_jsonb(x) FROM (
   SELECT p.id, p.name, p."birthDate", p."thumbnailPath", p."isHidden", p."isFavorite", p.color,
          p."updatedAt", p."ownerId"
   FROM person p WHERE p.id = f."personId") x) AS person
"""


async def faces_of_asset(conn: Conn, asset_id: UUID) -> list[Row]:
    """Visible, non-deleted faces of an asset, left to right, each with its person (or null)."""
    cur = await conn.execute(
        f"""
        SELECT {FACE_COLUMNS}, {_PERSON_JSON} FROM asset_face f
        WHERE f."assetId" = %s AND f."deletedAt" IS NULL AND f."isVisible" IS TRUE
        ORDER BY f."boundingBoxX1"
        """,
        (asset_id,),
    )
    return await cur.fetchall()


async def get(conn: Conn, face_id: UUID) -> Row | None:
    cur = await conn.execute(
        f"SELECT {FACE_COLUMNS}, p.\"faceAssetId\" AS person_feature_face FROM asset_face f"
        ' LEFT JOIN person p ON p.id = f."personId" WHERE f.id = %s',
        (face_id,),
    )
    return await cur.fetchone()


async def faces_of_person_on_asset(conn: Conn, person_id: UUID, asset_id: UUID) -> list[Row]:
    """Immich's ``getFacesByIds([{personId, assetId}])`` (non-deleted faces)."""
    cur = await conn.execute(
        f"SELECT {FACE_COLUMNS}, p.\"faceAssetId\" AS person_feature_face FROM asset_face f"
        ' LEFT JOIN person p ON p.id = f."personId"'
        ' WHERE f."personId" = %s AND f."assetId" = %s AND f."deletedAt" IS NULL',
        (person_id, asset_id),
    )
    return await cur.fetchall()


async def create_manual(
    conn: Conn, *, asset_id: UUID, person_id: UUID, image_width: int, image_height: int,
    x1: int, y1: int, x2: int, y2: int,
) -> UUID:
    cur = await conn.execute(
        """
        INSERT INTO asset_face ("assetId", "personId", "imageWidth", "imageHeight",
          "boundingBoxX1", "boundingBoxY1", "boundingBoxX2", "boundingBoxY2", "sourceType")
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'manual') RETURNING id
        """,
        (asset_id, person_id, image_width, image_height, x1, y1, x2, y2),
    )
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def delete(conn: Conn, face_id: UUID, *, force: bool) -> None:
    """Remove a face (``force``) or mark it deleted, as Immich does."""
    if force:
        await conn.execute("DELETE FROM asset_face WHERE id = %s", (face_id,))
    else:
        await conn.execute('UPDATE asset_face SET "deletedAt" = now() WHERE id = %s', (face_id,))


async def reassign(conn: Conn, face_ids: Iterable[UUID], person_id: UUID) -> None:
    await conn.execute(
        'UPDATE asset_face SET "personId" = %s WHERE id = ANY(%s)', (person_id, list(face_ids))
    )


async def feature_face(conn: Conn, person_id: UUID) -> Row | None:
    """What the person thumbnail is cut from: the feature face's box and the asset's preview."""
    cur = await conn.execute(
        """
        SELECT p.id AS "personId", p."ownerId", f."imageWidth", f."imageHeight",
               f."boundingBoxX1", f."boundingBoxY1", f."boundingBoxX2", f."boundingBoxY2",
               (SELECT af.path FROM asset_file af WHERE af."assetId" = f."assetId"
                  AND af.type = 'preview' ORDER BY af."isEdited" LIMIT 1) AS preview
        FROM person p JOIN asset_face f ON f.id = p."faceAssetId"
        WHERE p.id = %s
        """,
        (person_id,),
    )
    return await cur.fetchone()
