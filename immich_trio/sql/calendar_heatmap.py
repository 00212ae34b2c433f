"""Per-day asset counts of one owner for the calendar heatmaps (Immich's ``getCalendarHeatmap``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

# The day an asset counts on, in UTC: its upload time or its local "taken" time (which Immich
# stores as a UTC-tagged wall time).
_DAY = {
    "Upload": """(date_trunc('DAY', a."createdAt" AT TIME ZONE 'UTC'))::date""",
    "Taken": """(date_trunc('DAY', a."localDateTime" AT TIME ZONE 'UTC'))::date""",
}
_COLUMN = {"Upload": 'a."createdAt"', "Taken": 'a."localDateTime"'}


async def day_counts(
    conn: AsyncConnection[Any], owner_id: UUID | str, *, start: datetime, end: datetime, kind: str
) -> dict[date, int]:
    """Counts per UTC day of the owner's assets not in trash with ``start <= column < end``
    (as Immich: every visibility counts)."""
    day, column = _DAY[kind], _COLUMN[kind]
    cur = await conn.execute(
        f"""
        SELECT {day} AS day, count(*)::int AS count
        FROM asset a
        WHERE a."ownerId" = %s AND {column} >= %s AND {column} < %s AND a."deletedAt" IS NULL
        GROUP BY 1 ORDER BY 1
        """,
        (owner_id, start, end),
    )
    return {row["day"]: row["count"] for row in await cur.fetchall()}
