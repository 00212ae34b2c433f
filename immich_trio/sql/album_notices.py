"""Album notifications as Immich creates them: the jobs that announce an invite or new media,
and the bell rows those jobs write.

``NotifyAlbumUpdate`` is debounced as Immich debounces it: one waiting job per album, run
``ALBUM_UPDATE_DELAY`` after the latest addition, its recipients the union of every addition's.
Rows store ``data`` as Immich does: a JSON *string* ``{"albumId":...}`` inside the jsonb column.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from immich_trio.jobs.names import JobName
from immich_trio.sql import events
from immich_trio.sql.jobs import enqueue_job

Conn = AsyncConnection[Any]

ALBUM_UPDATE_DELAY = timedelta(minutes=5)
"""Immich's albumUpdateEmailDelayMs: 300,000 ms."""
NOTIFICATION_EVENT = "on_notification"

# The waiting update job of the album (at most one), locked so two additions merge in turn.
WAITING_UPDATE = """
SELECT id, data FROM immich_trio.job
WHERE name = %(name)s AND status = 'waiting' AND data ->> 'id' = %(album)s
ORDER BY id LIMIT 1
FOR UPDATE
"""

DELAY_UPDATE = """UPDATE immich_trio.job SET data = %(data)s, run_after = %(run_after)s WHERE id = %(id)s"""

# The notification as Immich's mapNotification writes it (null fields left out), for the socket.
_DTO = """
json_strip_nulls(json_build_object(
    'id', n.id, 'createdAt', to_char(n."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'level', n.level, 'type', n.type, 'title', n.title, 'description', n.description,
    'data', n.data))
"""

# Recipients still alive and still members (or the owner) of a live album.
INSERT_NOTICES = f"""
WITH al AS (
    SELECT al.id, al."albumName", o.name AS owner_name
    FROM album al
    JOIN album_user au ON au."albumId" = al.id AND au.role = 'owner'
    JOIN "user" o ON o.id = au."userId"
    WHERE al.id = %(album)s AND al."deletedAt" IS NULL
    LIMIT 1
), n AS (
    INSERT INTO notification ("userId", type, level, title, description, data)
    SELECT u.id, %(type)s::text, %(level)s::text, %(title)s::text,
           CASE WHEN %(type)s::text = 'AlbumInvite'
                THEN al.owner_name || ' shared an album (' || al."albumName" || ') with you'
                ELSE 'New media has been added to the album (' || al."albumName" || ')' END,
           to_jsonb('{{"albumId":"' || al.id::text || '"}}')
    FROM al
    JOIN album_user m ON m."albumId" = al.id
    JOIN "user" u ON u.id = m."userId" AND u."deletedAt" IS NULL
    WHERE u.id = ANY(%(users)s::uuid[])
    RETURNING *
)
SELECT n."userId", {_DTO} AS dto FROM n ORDER BY n."createdAt", n.id
"""

_KINDS = {
    "AlbumInvite": ("success", "Shared Album Invitation"),
    "AlbumUpdate": ("info", "Shared Album Update"),
}


async def enqueue_invites(conn: Conn, album_id: UUID, user_ids: Iterable[UUID]) -> None:
    for user_id in user_ids:
        data = {"id": str(album_id), "recipientId": str(user_id)}
        await enqueue_job(conn, JobName.NOTIFY_ALBUM_INVITE, data)


async def enqueue_update(conn: Conn, album_id: UUID, user_ids: Iterable[UUID], now: datetime) -> None:
    """Queue (or push back, adding recipients) the album's ``NotifyAlbumUpdate``."""
    recipients = [str(u) for u in user_ids]
    if not recipients:
        return  # Immich queues nothing for an album nobody else is in
    run_after = now + ALBUM_UPDATE_DELAY
    cur = await conn.execute(WAITING_UPDATE, {"name": JobName.NOTIFY_ALBUM_UPDATE.value, "album": str(album_id)})
    waiting = await cur.fetchone()
    if waiting is None:
        data = {"id": str(album_id), "recipientIds": recipients, "delay": 300_000}
        await enqueue_job(conn, JobName.NOTIFY_ALBUM_UPDATE, data, run_after=run_after)
        return
    merged = list(dict.fromkeys([*recipients, *waiting["data"].get("recipientIds", [])]))
    data = {**waiting["data"], "recipientIds": merged}
    await conn.execute(DELAY_UPDATE, {"id": waiting["id"], "data": Jsonb(data), "run_after": run_after})


async def create_notices(conn: Conn, album_id: UUID | str, kind: str, user_ids: Iterable[UUID | str]) -> int:
    """Write the bell rows of ``kind`` (``AlbumInvite``/``AlbumUpdate``) and send each recipient
    ``on_notification`` at commit; the number written."""
    level, title = _KINDS[kind]
    params = {
        "album": str(album_id), "type": kind, "level": level, "title": title,
        "users": [str(u) for u in user_ids],
    }
    cur = await conn.execute(INSERT_NOTICES, params)
    rows = await cur.fetchall()
    for row in rows:
        await events.publish_to_user(conn, row["userId"], NOTIFICATION_EVENT, row["dto"])
    return len(rows)
