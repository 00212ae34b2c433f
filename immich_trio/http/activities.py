"""The Activities tag: comments and likes on an album or on one of its assets.

Only members of the album (owner, editors, viewers) read and write them: listing and
statistics need ``album.read``, creating needs ``activity.create`` (a member of an album whose
activity is enabled), deleting needs ``activity.delete`` (the author, or the album's owner).
A like is unique per user and target: liking twice answers the first like with 200 instead of
201. Shared links reach none of these routes, and Immich sends no socket.io event for them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.activities import activity_dto, activity_statistics_dto
from immich_trio.http.dto.generated import (
    ActivityCreateDto,
    ActivityResponseDto,
    ActivityStatisticsResponseDto,
)
from immich_trio.http.errors import ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.sql import activities as q

COMMENT_REQUIRED = "Comment is required when type is COMMENT"
COMMENT_FORBIDDEN = "Comment must not be provided when type is not COMMENT"


def _uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(str(value))


def _check_comment(dto: ActivityCreateDto) -> str | None:
    """Immich's refinements of ActivityCreateDto (zod ``custom`` issues on ``comment``)."""
    comment = None if dto.comment is OMIT else str(dto.comment)
    if dto.type == "comment" and not (comment and comment.strip()):
        message = COMMENT_REQUIRED
    elif dto.type != "comment" and comment:
        message = COMMENT_FORBIDDEN
    else:
        return comment
    raise ValidationFailed([{"code": "custom", "path": ["comment"], "message": message}])


@operation("getActivities")
async def get_activities(ctx: Ctx) -> list[ActivityResponseDto]:
    query = ctx.query
    album_id = UUID(str(query["albumId"]))
    kind = query.get("type")
    album_level = query.get("level") == "album"
    async with ctx.db() as conn:
        await require_access(ctx, conn, "album.read", [album_id])
        rows = await q.search(
            conn,
            album_id,
            user_id=_uuid(query.get("userId")),
            asset_id=None if album_level else _uuid(query.get("assetId")),
            album_level=album_level,
            liked=None if kind is None else kind == "like",
        )
    return [activity_dto(row) for row in rows]


@operation("getActivityStatistics")
async def get_activity_statistics(ctx: Ctx) -> ActivityStatisticsResponseDto:
    album_id = UUID(str(ctx.query["albumId"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "album.read", [album_id])
        row = await q.statistics(conn, album_id, _uuid(ctx.query.get("assetId")))
    return activity_statistics_dto(row)


@operation("createActivity")
async def create_activity(ctx: Ctx) -> Reply:
    dto = await ctx.body(ActivityCreateDto)
    comment = _check_comment(dto)
    asset_id = None if dto.asset_id is OMIT else UUID(str(dto.asset_id))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "activity.create", [dto.album_id])
        if dto.type == "like":
            row, duplicate = await q.like(conn, dto.album_id, ctx.user.id, asset_id)
        else:
            assert comment is not None
            row, duplicate = await q.comment(conn, dto.album_id, ctx.user.id, asset_id, comment), False
    return Reply(body=activity_dto(row), status=200 if duplicate else 201)


@operation("deleteActivity")
async def delete_activity(ctx: Ctx) -> None:
    activity_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "activity.delete", [activity_id])
        await q.delete(conn, activity_id)
