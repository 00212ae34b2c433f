"""Queries of the nightly database cleanup jobs: expired sessions, old audit rows, people
without faces, and the recount of every user's storage usage. Each is one set-based statement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from immich_trio.sql.credential_cache import publish_credentials_changed

Conn = AsyncConnection[Any]

SESSION_IDLE_LIMIT = timedelta(days=90)
"""A session not used for this long is deleted (Immich's ``SessionRepository.cleanup``)."""

AUDIT_RETENTION = timedelta(days=31)
"""Immich keeps audit rows for ``MAX_DAYS + 1`` days, ``MAX_DAYS`` (30) being how far back a
sync checkpoint may lag before the client is told to reset (``SyncService``)."""

AUDIT_TABLES = (
    "album_audit",
    "album_user_audit",
    "album_asset_audit",
    "asset_audit",
    "asset_face_audit",
    "asset_metadata_audit",
    "asset_edit_audit",
    "asset_ocr_audit",
    "memory_audit",
    "memory_asset_audit",
    "partner_audit",
    "person_audit",
    "stack_audit",
    "user_audit",
    "user_metadata_audit",
)
"""Every ``*_audit`` table of the schema; each has a ``deletedAt`` column."""

DELETE_SESSIONS = """
DELETE FROM session
WHERE "updatedAt" <= %(idle_before)s
   OR ("expiresAt" IS NOT NULL AND "expiresAt" <= %(now)s)
RETURNING "deviceOS", "deviceType", "userId"
"""

DELETE_AUDIT = sql.SQL('DELETE FROM {table} WHERE "deletedAt" < %s')

# Immich sums the exif sizes of the user's own uploads (external library assets are not
# counted), trashed ones included, and stamps every live user with the time of the recount.
SYNC_USAGE = """
WITH usage AS (
    SELECT a."ownerId" AS id, sum(e."fileSizeInByte") AS bytes
    FROM asset a
    LEFT JOIN asset_exif e ON e."assetId" = a.id
    WHERE a."libraryId" IS NULL
    GROUP BY a."ownerId"
)
UPDATE "user" u
SET "quotaUsageInBytes" = COALESCE(usage.bytes, 0), "updatedAt" = %s
FROM "user" x
LEFT JOIN usage ON usage.id = x.id
WHERE x.id = u.id AND u."deletedAt" IS NULL
RETURNING u.id
"""

# A person with no face row at all, soft-deleted faces included: both forms of Immich's
# ``getAllWithoutFaces`` select exactly these.
DELETE_PEOPLE_WITHOUT_FACES = """
DELETE FROM person p
WHERE NOT EXISTS (SELECT 1 FROM asset_face f WHERE f."personId" = p.id)
RETURNING p."thumbnailPath"
"""


# The pool's connections return rows as dicts.


async def delete_sessions(conn: Conn, now: datetime) -> list[tuple[str, str]]:
    """Delete expired sessions and those idle past ``SESSION_IDLE_LIMIT``; their
    ``(deviceOS, deviceType)``."""
    cur = await conn.execute(DELETE_SESSIONS, {"idle_before": now - SESSION_IDLE_LIMIT, "now": now})
    rows = await cur.fetchall()
    for user_id in {row["userId"] for row in rows}:
        await publish_credentials_changed(conn, user_id)
    return [(str(row["deviceOS"]), str(row["deviceType"])) for row in rows]


async def delete_old_audit_rows(conn: Conn, now: datetime) -> int:
    """Delete audit rows older than ``AUDIT_RETENTION`` from every audit table; how many."""
    before = now - AUDIT_RETENTION
    deleted = 0
    for table in AUDIT_TABLES:
        cur = await conn.execute(DELETE_AUDIT.format(table=sql.Identifier(table)), (before,))
        deleted += max(cur.rowcount, 0)
    return deleted


async def sync_usage(conn: Conn, now: datetime) -> int:
    """Recount every live user's ``quotaUsageInBytes``; how many users."""
    cur = await conn.execute(SYNC_USAGE, (now,))
    rows = await cur.fetchall()
    for row in rows:  # the user row is cached with the credentials
        await publish_credentials_changed(conn, row["id"])
    return len(rows)


async def delete_people_without_faces(conn: Conn) -> list[str]:
    """Delete every person with no face; the thumbnail files they leave behind."""
    cur = await conn.execute(DELETE_PEOPLE_WITHOUT_FACES)
    return [str(row["thumbnailPath"]) for row in await cur.fetchall() if row["thumbnailPath"]]
