"""Who gets mail and the mail jobs: the ``NotifyUserSignup`` job a new account queues, the
recipients of album mail with their e-mail preferences, and ``SendMail`` jobs.

Preferences are the stored partial ``user_metadata['preferences']`` (null when the user never
changed any); a missing ``emailNotifications`` key means Immich's default, on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import JobName
from immich_trio.sql.jobs import enqueue_job

Conn = AsyncConnection[Any]

_PREFERENCES = """(SELECT m.value FROM user_metadata m WHERE m."userId" = u.id AND m.key = 'preferences')"""

LIVE_USER = f"""
SELECT u.id, u.name, u.email, {_PREFERENCES} AS preferences
FROM "user" u WHERE u.id = %(id)s AND u."deletedAt" IS NULL
"""

# Live recipients among the members (owner included) of a live album, with the album's name
# and its owner's.
ALBUM_RECIPIENTS = f"""
SELECT u.id, u.name, u.email, {_PREFERENCES} AS preferences,
       al."albumName" AS album_name, o.name AS owner_name
FROM album al
JOIN album_user ao ON ao."albumId" = al.id AND ao.role = 'owner'
JOIN "user" o ON o.id = ao."userId"
JOIN album_user m ON m."albumId" = al.id
JOIN "user" u ON u.id = m."userId" AND u."deletedAt" IS NULL
WHERE al.id = %(album)s AND al."deletedAt" IS NULL AND u.id = ANY(%(users)s::uuid[])
ORDER BY u."createdAt", u.id
"""


def wants_mail(preferences: Any, kind: str) -> bool:
    """Whether the user's ``emailNotifications`` allow mail of ``kind`` (``albumInvite``,
    ``albumUpdate``): both the master switch and the kind's, each on unless set off."""
    email = preferences.get("emailNotifications") if isinstance(preferences, Mapping) else None
    if not isinstance(email, Mapping):
        return True
    return email.get("enabled", True) is not False and email.get(kind, True) is not False


async def enqueue_signup(conn: Conn, user_id: UUID | str, temp_password: str | None) -> None:
    data: dict[str, Any] = {"id": str(user_id)}
    if temp_password is not None:
        data["tempPassword"] = temp_password
    await enqueue_job(conn, JobName.NOTIFY_USER_SIGNUP, data)


async def live_user(conn: Conn, user_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(LIVE_USER, {"id": str(user_id)})
    return await cur.fetchone()


async def album_recipients(conn: Conn, album_id: UUID | str, user_ids: Iterable[UUID | str]) -> list[dict[str, Any]]:
    cur = await conn.execute(ALBUM_RECIPIENTS, {"album": str(album_id), "users": [str(u) for u in user_ids]})
    return await cur.fetchall()


async def enqueue_mail(conn: Conn, *, to: str, subject: str, html: str, text: str) -> None:
    await enqueue_job(conn, JobName.SEND_MAIL, {"to": to, "subject": subject, "html": html, "text": text})
