"""The Partners tag: share my library with another user, list both directions, let the
receiving user choose ``inTimeline``, stop sharing.

Immich sends no socket.io event for partner changes; the mobile app learns of them through
sync (``partner_audit`` is filled by the schema's delete trigger).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import PartnerCreateDto, PartnerResponseDto, PartnerUpdateDto
from immich_trio.http.dto.partners import partner_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import partners as q

ALREADY_EXISTS = "Partner already exists"
INVALID_USER = "Invalid user"
NOT_FOUND = "Partner not found"


@operation("getPartners")
async def get_partners(ctx: Ctx) -> list[PartnerResponseDto]:
    shared_by_me = ctx.query["direction"] == "shared-by"
    async with ctx.db() as conn:
        rows = await q.partners_of(conn, ctx.user.id, shared_by_me=shared_by_me)
    return [partner_dto(row) for row in rows]


async def _create(ctx: Ctx, conn: Any, shared_with: UUID) -> PartnerResponseDto:
    """Immich's order: an existing pair first, then an unknown (or deleted) user."""
    me = ctx.user.id
    if await q.pair_exists(conn, me, shared_with):
        raise BadRequest(ALREADY_EXISTS)
    if not await q.live_user_exists(conn, shared_with):
        raise BadRequest(INVALID_USER)
    row = await q.create_partner(conn, me, shared_with)
    if row is None:  # a concurrent twin won, or a pair kept for a deleted user
        raise BadRequest(ALREADY_EXISTS)
    return partner_dto(row)


@operation("createPartner")
async def create_partner(ctx: Ctx) -> PartnerResponseDto:
    dto = await ctx.body(PartnerCreateDto)
    async with ctx.db() as conn:
        return await _create(ctx, conn, dto.shared_with_id)


@operation("createPartnerDeprecated")
async def create_partner_deprecated(ctx: Ctx) -> PartnerResponseDto:
    async with ctx.db() as conn:
        return await _create(ctx, conn, UUID(str(ctx.path["id"])))


@operation("updatePartner")
async def update_partner(ctx: Ctx) -> PartnerResponseDto:
    dto = await ctx.body(PartnerUpdateDto)
    shared_by = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "partner.update", [shared_by])
        row = await q.set_in_timeline(conn, shared_by, ctx.user.id, dto.in_timeline)
    if row is None:  # removed between the check and the update
        raise BadRequest(NOT_FOUND)
    return partner_dto(row)


@operation("removePartner")
async def remove_partner(ctx: Ctx) -> None:
    shared_with = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        if not await q.pair_exists(conn, ctx.user.id, shared_with):
            raise BadRequest(NOT_FOUND)
        await q.remove_partner(conn, ctx.user.id, shared_with)
