"""``GET /search/person`` (Search tag): the caller's people by name."""

from __future__ import annotations

from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import PersonResponseDto
from immich_trio.http.dto.people import person_dto
from immich_trio.http.registry import operation
from immich_trio.sql import people as q


@operation("searchPerson")
async def search_person(ctx: Ctx) -> list[PersonResponseDto]:
    async with ctx.db() as conn:
        rows = await q.search_by_name(
            conn, ctx.user.id, str(ctx.query["name"]), with_hidden=bool(ctx.query.get("withHidden"))
        )
    return [person_dto(r) for r in rows]
