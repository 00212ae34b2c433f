"""The Timeline tag: monthly buckets and one bucket's assets as parallel arrays (behaviour.md §8)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from immich_trio.http.access import require_access, require_elevated_permission, shared_link_grant
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.dto.timeline import TimeBucketDto, time_bucket_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import timeline as q

WITH_PARTNERS_UNSUPPORTED = (
    "withPartners is only supported for non-archived, non-trashed, non-favorited, non-locked assets"
)
LOCKED_OF_OTHER = "You may not access another user's locked timeline"
# Filters of features this server does not have yet: refused rather than answered wrongly.
NOT_YET: dict[str, str] = {}


async def _timeline_filter(ctx: Ctx, conn: Any, dto: TimeBucketDto) -> q.TimelineFilter:
    """Immich's time-bucket checks, in its order, then the owners whose assets are shown."""
    me = ctx.user.id
    if dto.visibility == "locked":
        require_elevated_permission(ctx)
    user_id = dto.user_id
    if dto.album_id is not None:
        await require_access(ctx, conn, "album.read", [dto.album_id])
    elif user_id is None:
        user_id = me
    if user_id is not None:
        await require_access(ctx, conn, "timeline.read", [user_id])
        if dto.visibility == "archive":
            await require_access(ctx, conn, "archive.read", [user_id])
    if dto.tag_id is not None:
        await require_access(ctx, conn, "tag.read", [dto.tag_id])
    if dto.person_id is not None:
        await require_access(ctx, conn, "person.read", [dto.person_id])
    for field, message in NOT_YET.items():
        if getattr(dto, field) is not None:
            raise BadRequest(message)
    if dto.visibility == "locked" and user_id is not None and user_id != me:
        raise BadRequest(LOCKED_OF_OTHER)
    link = shared_link_grant(ctx)
    with_coordinates = dto.with_coordinates and (link is None or link.show_metadata)
    owners: list[UUID] = [] if user_id is None else [user_id]
    if dto.with_partners:
        if (
            dto.visibility in (None, "archive", "locked")
            or dto.is_favorite is not None
            or dto.is_trashed
        ):
            raise BadRequest(WITH_PARTNERS_UNSUPPORTED)
        if user_id is not None:
            owners.extend(p for p in await q.timeline_partner_ids(conn, me) if p not in owners)
    return q.TimelineFilter(
        caller_id=me,
        owner_ids=tuple(owners),
        album_id=dto.album_id,
        tag_id=dto.tag_id,
        person_id=dto.person_id,
        visibility=dto.visibility,
        is_trashed=dto.is_trashed,
        is_favorite=dto.is_favorite,
        with_stacked=dto.with_stacked,
        with_coordinates=with_coordinates,
        order=cast(q.Order, dto.order),
        order_by=cast(q.OrderBy, dto.order_by),
        bbox=dto.bbox,
    )


@operation("getTimeBuckets")
async def get_time_buckets(ctx: Ctx) -> Reply:
    dto = time_bucket_dto(ctx.query)
    async with ctx.db() as conn:
        options = await _timeline_filter(ctx, conn, dto)
        body = await q.time_buckets(conn, options)
    return Reply(body=body.encode())


@operation("getTimeBucket")
async def get_time_bucket(ctx: Ctx) -> Reply:
    dto = time_bucket_dto(ctx.query)
    assert dto.time_bucket is not None  # required by the spec
    async with ctx.db() as conn:
        options = await _timeline_filter(ctx, conn, dto)
        link = shared_link_grant(ctx)
        with_place = link is None or link.show_metadata
        body = await q.time_bucket(conn, options, dto.time_bucket, with_place=with_place)
    return Reply(body=body.encode())
