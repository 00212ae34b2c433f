"""The Faces tag: an asset's faces, manual faces, deletes and moving one face to a person."""

from __future__ import annotations

from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import (
    AssetFaceCreateDto,
    AssetFaceDeleteDto,
    AssetFaceResponseDto,
    FaceDto,
    PersonResponseDto,
)
from immich_trio.http.dto.people import face_dto, person_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.people_writes import feature_photo_changes, new_feature_photos
from immich_trio.http.registry import operation
from immich_trio.sql import faces as q
from immich_trio.sql import people as people_q


@operation("getFaces")
async def get_faces(ctx: Ctx) -> list[AssetFaceResponseDto]:
    asset_id = UUID(str(ctx.query["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.read", [asset_id])
        rows = await q.faces_of_asset(conn, asset_id)
    return [face_dto(r, ctx.user.id) for r in rows]


@operation("createFace")
async def create_face(ctx: Ctx) -> None:
    dto = await ctx.body(AssetFaceCreateDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.read", [dto.asset_id])
        await require_access(ctx, conn, "person.read", [dto.person_id])
        await q.create_manual(
            conn, asset_id=dto.asset_id, person_id=dto.person_id,
            image_width=dto.image_width, image_height=dto.image_height,
            x1=dto.x, y1=dto.y, x2=dto.x + dto.width, y2=dto.y + dto.height,
        )


@operation("deleteFace")
async def delete_face(ctx: Ctx) -> None:
    face_id = UUID(str(ctx.path["id"]))
    dto = await ctx.body(AssetFaceDeleteDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "face.delete", [face_id])
        await q.delete(conn, face_id, force=dto.force)


@operation("reassignFacesById")
async def reassign_face(ctx: Ctx) -> PersonResponseDto:
    """``PUT /faces/{id}``: ``id`` names the person, the body the face (Immich's controller)."""
    person_id = UUID(str(ctx.path["id"]))
    face_id = (await ctx.body(FaceDto)).id
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "person.update", [person_id])
        await require_access(ctx, conn, "person.create", [face_id])
        face = await q.get(conn, face_id)
        person = await people_q.get(conn, person_id)
        if face is None or person is None:
            raise BadRequest("Person not found")
        await q.reassign(conn, [face_id], person_id)
        await new_feature_photos(conn, feature_photo_changes(person, face))
        row = await people_q.get(conn, person_id)
    assert row is not None
    return person_dto(row)
