"""The calendar heatmaps (tags "Users" and "Users (admin)"): a user's asset counts per UTC day
over a period, by upload or by taken date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from immich_trio.http.context import Ctx
from immich_trio.http.errors import BadRequest, Forbidden, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.http.users_admin import USER_NOT_FOUND
from immich_trio.sql import calendar_heatmap as q
from immich_trio.sql import users as users_q

# Without ``from`` the period is the 52 weeks that end on ``to`` (``to`` included).
DEFAULT_DAYS = 52 * 7


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _period(ctx: Ctx) -> tuple[date, date]:
    raw_from, raw_to = ctx.query.get("from"), ctx.query.get("to")
    start = date.fromisoformat(raw_from) if raw_from else None
    end = date.fromisoformat(raw_to) if raw_to else ctx.runtime.now().astimezone(UTC).date()
    if start is not None and raw_to and start > end:
        raise ValidationFailed([{"code": "custom", "path": ["from"], "message": "from must be before to"}])
    return (start if start is not None else end - timedelta(days=DEFAULT_DAYS - 1)), end


async def _heatmap(ctx: Ctx, user_id: UUID | str) -> dict[str, Any]:
    start, end = _period(ctx)
    kind = ctx.query.get("type") or "Upload"
    async with ctx.db() as conn:
        counts = await q.day_counts(
            conn, user_id, start=_midnight(start), end=_midnight(end + timedelta(days=1)), kind=kind
        )
    series = [
        {"date": day.isoformat(), "count": counts.get(day, 0)}
        for day in (start + timedelta(days=n) for n in range((end - start).days + 1))
    ]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "series": series,
        "totalCount": sum(item["count"] for item in series),
    }


@operation("getMyCalendarHeatmap")
async def get_my_calendar_heatmap(ctx: Ctx) -> dict[str, Any]:
    return await _heatmap(ctx, ctx.user.id)


@operation("getUserCalendarHeatmapAdmin")
async def get_user_calendar_heatmap_admin(ctx: Ctx) -> dict[str, Any]:
    # v3.1's spec leaves the admin flag off this route (API-key permission ``user.read``); Immich's
    # controller marks it admin, and another user's counts are an admin's business only.
    if not ctx.user.is_admin:
        raise Forbidden()
    user_id = ctx.path["id"]
    async with ctx.db() as conn:
        if await users_q.get_user(conn, user_id, with_deleted=False) is None:
            raise BadRequest(USER_NOT_FOUND)
    return await _heatmap(ctx, user_id)
