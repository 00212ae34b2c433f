"""Person writes shared by the People and Faces routes: Immich's ``update`` (with the feature
face and its thumbnail job) and the feature-photo refresh after faces move."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import PeopleUpdateItem
from immich_trio.http.errors import BadRequest
from immich_trio.jobs.names import JobName
from immich_trio.sql import faces as faces_q
from immich_trio.sql import people as q
from immich_trio.sql.jobs.enqueue import enqueue_job


async def queue_thumbnail(conn: Any, person_id: UUID) -> None:
    await enqueue_job(conn, JobName.PERSON_GENERATE_THUMBNAIL, {"id": str(person_id)})


async def update_person(ctx: Ctx, conn: Any, dto: PeopleUpdateItem) -> dict[str, Any]:
    """Immich's ``PersonService.update`` in the caller's transaction."""
    await require_access(ctx, conn, "person.update", [dto.id])
    values: dict[str, Any] = {}
    if dto.feature_face_asset_id is not OMIT:
        await require_access(ctx, conn, "asset.read", [dto.feature_face_asset_id])
        faces = await faces_q.faces_of_person_on_asset(conn, dto.id, dto.feature_face_asset_id)
        if not faces:
            raise BadRequest("Invalid assetId for feature face")
        values["faceAssetId"] = faces[0]["id"]
    for column, value in (
        ("name", dto.name), ("birthDate", dto.birth_date), ("isHidden", dto.is_hidden),
        ("isFavorite", dto.is_favorite), ("color", dto.color),
    ):
        if value is not OMIT:
            values[column] = value
    row = await q.update(conn, dto.id, values)
    if row is None:
        raise BadRequest("Person not found")
    if "faceAssetId" in values:
        await queue_thumbnail(conn, dto.id)
    return row


def feature_photo_changes(person: Mapping[str, Any], face: Mapping[str, Any]) -> list[UUID]:
    """People whose feature photo must be chosen again when ``face`` moves to ``person``."""
    changed: list[UUID] = []
    if person["faceAssetId"] is None:
        changed.append(person["id"])
    if face["personId"] is not None and face["person_feature_face"] == face["id"]:
        changed.append(face["personId"])
    return changed


async def new_feature_photos(conn: Any, person_ids: Iterable[UUID]) -> None:
    """Immich's ``createNewFeaturePhoto``: a face of each person becomes its feature face."""
    for person_id in dict.fromkeys(person_ids):
        if await q.set_random_feature_face(conn, person_id):
            await queue_thumbnail(conn, person_id)
