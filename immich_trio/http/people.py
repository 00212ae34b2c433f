"""The People tag: list, one person, create, update (one or many), merge, reassign faces,
statistics, the face thumbnail and deletes, as Immich's person service answers them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from quart import Response

from immich_trio import sysconfig
from immich_trio.http.access import check_access, require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, from_wire
from immich_trio.http.dto.generated import (
    AssetFaceUpdateDto,
    BulkIdResponseDto,
    BulkIdsDto,
    MergePersonDto,
    PeopleResponseDto,
    PeopleUpdateDto,
    PeopleUpdateItem,
    PersonCreateDto,
    PersonResponseDto,
    PersonStatisticsResponseDto,
)
from immich_trio.http.dto.people import person_dto
from immich_trio.http.errors import BadRequest, HttpError, NotFound, ValidationFailed
from immich_trio.http.people_writes import feature_photo_changes, new_feature_photos, update_person
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.sql import faces as faces_q
from immich_trio.sql import people as q
from immich_trio.storage.files import remove_quietly

PRIVATE_WITHOUT_CACHE = "private, no-cache, no-transform"
BIRTH_DATE_IN_FUTURE = "Birth date cannot be in the future"


def check_birth_date(ctx: Ctx, value: date | Any | None) -> None:
    if isinstance(value, date) and value > ctx.runtime.now().date():
        raise ValidationFailed([{"code": "custom", "path": ["birthDate"], "message": BIRTH_DATE_IN_FUTURE}])


def _id(ctx: Ctx) -> UUID:
    return UUID(str(ctx.path["id"]))


async def _find_or_fail(conn: Any, person_id: UUID) -> dict[str, Any]:
    person = await q.get(conn, person_id)
    if person is None:
        raise BadRequest("Person not found")
    return person


@operation("getAllPeople")
async def get_all_people(ctx: Ctx) -> PeopleResponseDto:
    page = int(ctx.query.get("page") or 1)
    size = int(ctx.query.get("size") or 500)
    closest_face: UUID | None = None
    if ctx.query.get("closestAssetId"):
        closest_face = UUID(str(ctx.query["closestAssetId"]))
    async with ctx.db() as conn:
        if ctx.query.get("closestPersonId"):
            person = await q.get(conn, UUID(str(ctx.query["closestPersonId"])))
            if person is None or person["faceAssetId"] is None:
                raise NotFound("Person not found")
            closest_face = person["faceAssetId"]
        config = await sysconfig.load(conn)
        min_faces = int(config["machineLearning"]["facialRecognition"]["minFaces"])
        rows, more = await q.list_for_user(
            conn, ctx.user.id, with_hidden=bool(ctx.query.get("withHidden")), min_faces=min_faces,
            skip=(page - 1) * size, take=size, closest_face_id=closest_face,
        )
        total, hidden = await q.counts(conn, ctx.user.id)
    return PeopleResponseDto(
        people=[person_dto(r) for r in rows], has_next_page=more, total=total, hidden=hidden
    )


@operation("getPerson")
async def get_person(ctx: Ctx) -> PersonResponseDto:
    async with ctx.db() as conn:
        await require_access(ctx, conn, "person.read", [_id(ctx)])
        return person_dto(await _find_or_fail(conn, _id(ctx)))


@operation("getPersonStatistics")
async def get_person_statistics(ctx: Ctx) -> PersonStatisticsResponseDto:
    async with ctx.db() as conn:
        await require_access(ctx, conn, "person.read", [_id(ctx)])
        return PersonStatisticsResponseDto(assets=await q.statistics(conn, _id(ctx)))


@operation("getPersonThumbnail")
async def get_person_thumbnail(ctx: Ctx) -> Response:
    # A file endpoint: every failure, a refusal included, is a bare 404 (behaviour.md §2).
    async with ctx.db() as conn:
        if await check_access(ctx, conn, "person.read", [_id(ctx)]) != {_id(ctx)}:
            raise NotFound()
        person = await q.get(conn, _id(ctx))
    if person is None or not person["thumbnailPath"]:
        raise NotFound()
    file = FileToSend(
        path=person["thumbnailPath"], content_type="image/jpeg", cache_control=PRIVATE_WITHOUT_CACHE
    )
    return await send_file({k.lower(): v for k, v in ctx.request.headers.items()}, file, head=ctx.request.method == "HEAD")


@operation("createPerson")
async def create_person(ctx: Ctx) -> PersonResponseDto:
    dto = await ctx.body(PersonCreateDto)
    check_birth_date(ctx, dto.birth_date)
    values = {
        column: value
        for column, value in (
            ("name", dto.name), ("birthDate", dto.birth_date), ("isHidden", dto.is_hidden),
            ("isFavorite", dto.is_favorite), ("color", dto.color),
        )
        if value is not OMIT and not (value is None and column != "birthDate")
    }
    async with ctx.db() as conn:
        return person_dto(await q.create(conn, ctx.user.id, values))


@operation("updatePerson")
async def update_person_route(ctx: Ctx) -> PersonResponseDto:
    data = await ctx.json()
    dto: PeopleUpdateItem = from_wire(PeopleUpdateItem, dict(data, id=str(ctx.path["id"])))
    check_birth_date(ctx, dto.birth_date)
    async with ctx.db() as conn, conn.transaction():
        return person_dto(await update_person(ctx, conn, dto))


@operation("updatePeople")
async def update_people(ctx: Ctx) -> list[BulkIdResponseDto]:
    dto = await ctx.body(PeopleUpdateDto)
    for item in dto.people:
        check_birth_date(ctx, item.birth_date)
    results: list[BulkIdResponseDto] = []
    async with ctx.db() as conn:
        for item in dto.people:
            try:
                async with conn.transaction():
                    await update_person(ctx, conn, item)
            except HttpError:
                results.append(BulkIdResponseDto(id=item.id, success=False, error="unknown"))
            else:
                results.append(BulkIdResponseDto(id=item.id, success=True))
    return results


@operation("mergePerson")
async def merge_person(ctx: Ctx) -> list[BulkIdResponseDto]:
    target = _id(ctx)
    ids = (await ctx.body(MergePersonDto)).ids
    if target in ids:
        raise BadRequest("Cannot merge a person into themselves")
    results: list[BulkIdResponseDto] = []
    async with ctx.db() as conn:
        await require_access(ctx, conn, "person.update", [target])
        primary = await _find_or_fail(conn, target)
        allowed = await check_access(ctx, conn, "person.merge", ids)
        for merge_id in ids:
            if merge_id not in allowed:
                results.append(BulkIdResponseDto(id=merge_id, success=False, error="no_permission"))
                continue
            async with conn.transaction():
                merged = await q.get(conn, merge_id)
                if merged is None:
                    results.append(BulkIdResponseDto(id=merge_id, success=False, error="not_found"))
                    continue
                update: dict[str, Any] = {}
                if not primary["name"] and merged["name"]:
                    update["name"] = merged["name"]
                if primary["birthDate"] is None and merged["birthDate"] is not None:
                    update["birthDate"] = merged["birthDate"]
                if update:
                    primary = await q.update(conn, target, update) or primary
                await q.reassign_all_faces(conn, merge_id, target)
                await q.delete(conn, [merge_id])
            if merged["thumbnailPath"]:
                remove_quietly(Path(merged["thumbnailPath"]))
            results.append(BulkIdResponseDto(id=merge_id, success=True))
    return results


@operation("reassignFaces")
async def reassign_faces(ctx: Ctx) -> list[PersonResponseDto]:
    person_id = _id(ctx)
    dto = await ctx.body(AssetFaceUpdateDto)
    results: list[PersonResponseDto] = []
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "person.update", [person_id])
        person = await _find_or_fail(conn, person_id)
        changed: list[UUID] = []
        for item in dto.data:
            for face in await faces_q.faces_of_person_on_asset(conn, item.person_id, item.asset_id):
                await require_access(ctx, conn, "person.create", [face["id"]])
                changed += feature_photo_changes(person, face)
                await faces_q.reassign(conn, [face["id"]], person_id)
            results.append(person_dto(person))
        await new_feature_photos(conn, changed)
    return results


@operation("deletePerson")
async def delete_person(ctx: Ctx) -> None:
    await _delete(ctx, [_id(ctx)])


@operation("deletePeople")
async def delete_people(ctx: Ctx) -> None:
    await _delete(ctx, (await ctx.body(BulkIdsDto)).ids)


async def _delete(ctx: Ctx, ids: list[UUID]) -> None:
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "person.delete", ids)
        rows = await q.delete(conn, ids)
    for row in rows:
        if row["thumbnailPath"]:
            remove_quietly(Path(row["thumbnailPath"]))
