"""The Notifications tag, the user's side (the bell): list with filters, get, mark read one
or many, delete one or many. Notifications are written where Immich creates them (album
invites and updates, job failures); the admin routes that send mail live elsewhere.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, value_or
from immich_trio.http.dto.generated import (
    NotificationDeleteAllDto,
    NotificationDto,
    NotificationUpdateAllDto,
    NotificationUpdateDto,
)
from immich_trio.http.dto.notifications import notification_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import notifications as q

NOT_FOUND = "Notification not found"


def _path_id(ctx: Ctx) -> UUID:
    return UUID(str(ctx.path["id"]))


def _optional_uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(str(value))


@operation("getNotifications")
async def get_notifications(ctx: Ctx) -> list[NotificationDto]:
    query = ctx.query
    async with ctx.db() as conn:
        rows = await q.search(
            conn,
            ctx.user.id,
            id=_optional_uuid(query.get("id")),
            level=query.get("level"),
            type=query.get("type"),
            unread=bool(query.get("unread")),
        )
    return [notification_dto(row) for row in rows]


@operation("getNotification")
async def get_notification(ctx: Ctx) -> NotificationDto:
    notification_id = _path_id(ctx)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "notification.read", [notification_id])
        row = await q.get_live(conn, notification_id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return notification_dto(row)


@operation("updateNotification")
async def update_notification(ctx: Ctx) -> NotificationDto:
    dto = await ctx.body(NotificationUpdateDto)
    notification_id = _path_id(ctx)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "notification.update", [notification_id])
        if dto.read_at is OMIT:
            row = await q.get_live(conn, notification_id)
        else:
            row = await q.set_read_at(conn, notification_id, value_or(dto.read_at, None))
    if row is None:
        raise BadRequest(NOT_FOUND)
    return notification_dto(row)


@operation("updateNotifications")
async def update_notifications(ctx: Ctx) -> None:
    dto = await ctx.body(NotificationUpdateAllDto)
    ids = list(dict.fromkeys(dto.ids))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "notification.update", ids)
        if dto.read_at is not OMIT:
            await q.set_read_at_all(conn, ids, value_or(dto.read_at, None))


@operation("deleteNotification")
async def delete_notification(ctx: Ctx) -> None:
    notification_id = _path_id(ctx)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "notification.delete", [notification_id])
        await q.soft_delete(conn, [notification_id], ctx.runtime.now())


@operation("deleteNotifications")
async def delete_notifications(ctx: Ctx) -> None:
    dto = await ctx.body(NotificationDeleteAllDto)
    ids = list(dict.fromkeys(dto.ids))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "notification.delete", ids)
        await q.soft_delete(conn, ids, ctx.runtime.now())
