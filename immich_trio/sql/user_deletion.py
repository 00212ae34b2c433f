"""The hard deletion of users: who is due, and the rows that go with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.credential_cache import publish_credentials_changed

Conn = AsyncConnection[Any]

DELETED_BEFORE = 'SELECT id FROM "user" WHERE "deletedAt" IS NOT NULL AND "deletedAt" < %s ORDER BY "deletedAt"'
GET = 'SELECT id, "storageLabel", "deletedAt" FROM "user" WHERE id = %s'
# Albums have no owner column in v3: ownership is the album_user row with role 'owner'.
DELETE_OWNED_ALBUMS = """
DELETE FROM album
WHERE id IN (SELECT "albumId" FROM album_user WHERE "userId" = %s AND role = 'owner')
"""
# Assets, sessions, keys, partners, tags, stacks, memories, people, libraries... cascade.
DELETE_USER = 'DELETE FROM "user" WHERE id = %s'


@attrs.frozen(kw_only=True)
class DoomedUser:
    id: UUID
    storage_label: str | None
    deleted_at: datetime | None


def user_delete_key(user_id: UUID | str) -> str:
    return f"user-delete:{user_id}"


async def enqueue_deleted_before(conn: Conn, before: datetime) -> list[UUID]:
    """Queue ``UserDelete {id}`` for every user soft-deleted before ``before``."""
    cur = await conn.execute(DELETED_BEFORE, (before,))
    ids = [row["id"] for row in await cur.fetchall()]
    for user_id in ids:
        await jobs_q.enqueue_job(
            conn, JobName.USER_DELETE, {"id": str(user_id)}, dedupe_key=user_delete_key(user_id)
        )
    return ids


async def get(conn: Conn, user_id: UUID | str) -> DoomedUser | None:
    """The user, deleted or not; None for an unknown id."""
    cur = await conn.execute(GET, (user_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return DoomedUser(id=row["id"], storage_label=row["storageLabel"], deleted_at=row["deletedAt"])


async def delete(conn: Conn, user_id: UUID | str) -> bool:
    """Remove the user's albums and the user row (and all that cascades); False if gone."""
    await conn.execute(DELETE_OWNED_ALBUMS, (user_id,))
    cur = await conn.execute(DELETE_USER, (user_id,))
    await publish_credentials_changed(conn, user_id)
    return cur.rowcount > 0
