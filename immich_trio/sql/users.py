"""Queries on users and their metadata (preferences, license, onboarding) and asset counts.

User rows carry every column the user DTOs need plus ``license`` (the ``user_metadata``
value, or null); passwords and PIN hashes are never selected here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from immich_trio.sql.credential_cache import publish_credentials_changed

USER_COLUMNS = """
    u.id, u.email, u.name, u."profileImagePath", u."avatarColor", u."profileChangedAt",
    u."storageLabel", u."shouldChangePassword", u."isAdmin", u."createdAt", u."deletedAt",
    u."updatedAt", u."oauthId", u."quotaSizeInBytes", u."quotaUsageInBytes", u.status,
    (SELECT m.value FROM user_metadata m WHERE m."userId" = u.id AND m.key = 'license') AS license
"""

GET_USER = f'SELECT {USER_COLUMNS} FROM "user" u WHERE u.id = %(id)s AND (%(with_deleted)s OR u."deletedAt" IS NULL)'

LIST_USERS = f"""
SELECT {USER_COLUMNS} FROM "user" u
WHERE (%(with_deleted)s OR u."deletedAt" IS NULL) AND (%(id)s::uuid IS NULL OR u.id = %(id)s)
ORDER BY u."createdAt" DESC
"""

ID_BY_EMAIL = 'SELECT id FROM "user" WHERE email = %s'
ID_BY_STORAGE_LABEL = 'SELECT id FROM "user" WHERE "storageLabel" = %s'
ADMIN_EXISTS = (
    'SELECT EXISTS (SELECT 1 FROM "user" WHERE "isAdmin" AND "deletedAt" IS NULL) AS exists'
)

GET_METADATA = 'SELECT value FROM user_metadata WHERE "userId" = %s AND key = %s'
UPSERT_METADATA = """
INSERT INTO user_metadata ("userId", key, value) VALUES (%s, %s, %s)
ON CONFLICT ("userId", key) DO UPDATE SET value = EXCLUDED.value
"""
DELETE_METADATA = 'DELETE FROM user_metadata WHERE "userId" = %s AND key = %s'

# Immich's default visibility filter: timeline and archive, unless one is asked for.
ASSET_STATISTICS = """
SELECT count(*) FILTER (WHERE type = 'IMAGE') AS images,
       count(*) FILTER (WHERE type = 'VIDEO') AS videos,
       count(*) AS total
FROM asset
WHERE "ownerId" = %(owner)s
  AND (CASE WHEN %(visibility)s::asset_visibility_enum IS NULL
            THEN visibility IN ('archive', 'timeline')
            ELSE visibility = %(visibility)s::asset_visibility_enum END)
  AND (%(favorite)s::boolean IS NULL OR "isFavorite" = %(favorite)s)
  AND (CASE WHEN %(trashed)s THEN "deletedAt" IS NOT NULL AND status <> 'deleted'
            ELSE "deletedAt" IS NULL END)
"""

# Columns a caller may set through ``update_user`` / ``create_user`` (wire name = column name).
WRITABLE = frozenset(
    {
        "email",
        "name",
        "password",
        "pinCode",
        "avatarColor",
        "isAdmin",
        "shouldChangePassword",
        "storageLabel",
        "quotaSizeInBytes",
        "profileImagePath",
        "profileChangedAt",
        "status",
        "deletedAt",
    }
)


async def get_user(
    conn: AsyncConnection[Any], user_id: UUID | str, *, with_deleted: bool = False
) -> dict[str, Any] | None:
    cur = await conn.execute(GET_USER, {"id": user_id, "with_deleted": with_deleted})
    return await cur.fetchone()


async def list_users(
    conn: AsyncConnection[Any], *, with_deleted: bool = False, user_id: UUID | str | None = None
) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST_USERS, {"with_deleted": with_deleted, "id": user_id})
    return await cur.fetchall()


async def id_by_email(conn: AsyncConnection[Any], email: str) -> UUID | None:
    """Any user holding ``email``, deleted ones included (the unique index covers them too)."""
    cur = await conn.execute(ID_BY_EMAIL, (email,))
    row = await cur.fetchone()
    return row["id"] if row else None


async def id_by_storage_label(conn: AsyncConnection[Any], label: str) -> UUID | None:
    cur = await conn.execute(ID_BY_STORAGE_LABEL, (label,))
    row = await cur.fetchone()
    return row["id"] if row else None


async def admin_exists(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute(ADMIN_EXISTS)
    row = await cur.fetchone()
    return bool(row and row["exists"])


def _checked(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - WRITABLE
    if unknown:
        raise ValueError(f"not writable user columns: {sorted(unknown)}")
    return dict(values)


async def create_user(conn: AsyncConnection[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a user (``password``/``pinCode`` already hashed) and return its DTO row."""
    cols = _checked(values)
    query = sql.SQL(
        'WITH u AS (INSERT INTO "user" ({cols}) VALUES ({vals}) RETURNING *) SELECT {out} FROM u'
    ).format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in cols),
        out=sql.SQL(USER_COLUMNS),
    )
    cur = await conn.execute(query, cols)
    row = await cur.fetchone()
    assert row is not None
    return row  # type: ignore[no-any-return]


async def update_user(
    conn: AsyncConnection[Any], user_id: UUID | str, values: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Set the given columns and return the user's DTO row (None if the user is gone)."""
    cols = _checked(values)
    if cols:
        query = sql.SQL('UPDATE "user" SET {sets} WHERE id = {id}').format(
            sets=sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in cols
            ),
            id=sql.Placeholder("__id"),
        )
        await conn.execute(query, {**cols, "__id": user_id})
        await publish_credentials_changed(conn, user_id)
    return await get_user(conn, user_id, with_deleted=True)


async def get_metadata(conn: AsyncConnection[Any], user_id: UUID | str, key: str) -> Any:
    cur = await conn.execute(GET_METADATA, (user_id, key))
    row = await cur.fetchone()
    return row["value"] if row else None


async def set_metadata(
    conn: AsyncConnection[Any], user_id: UUID | str, key: str, value: Any
) -> None:
    await conn.execute(UPSERT_METADATA, (user_id, key, Jsonb(value)))
    await publish_credentials_changed(conn, user_id)


async def delete_metadata(conn: AsyncConnection[Any], user_id: UUID | str, key: str) -> None:
    await conn.execute(DELETE_METADATA, (user_id, key))
    await publish_credentials_changed(conn, user_id)


async def asset_statistics(
    conn: AsyncConnection[Any],
    owner_id: UUID | str,
    *,
    visibility: str | None = None,
    is_favorite: bool | None = None,
    is_trashed: bool | None = None,
) -> dict[str, int]:
    cur = await conn.execute(
        ASSET_STATISTICS,
        {
            "owner": owner_id,
            "visibility": visibility,
            "favorite": is_favorite,
            "trashed": bool(is_trashed),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return {"images": row["images"], "videos": row["videos"], "total": row["total"]}


# Albums owned by the user follow its soft deletion and restoration.
SOFT_DELETE_ALBUMS = """
UPDATE album SET "deletedAt" = %s
WHERE "deletedAt" IS NULL
  AND id IN (SELECT "albumId" FROM album_user WHERE "userId" = %s AND role = 'owner')
"""
RESTORE_ALBUMS = """
UPDATE album SET "deletedAt" = NULL
WHERE "deletedAt" IS NOT NULL
  AND id IN (SELECT "albumId" FROM album_user WHERE "userId" = %s AND role = 'owner')
"""
# Usage counts the user's own uploads (not external libraries, not hidden motion parts).
SYNC_USAGE = """
UPDATE "user" SET "quotaUsageInBytes" = (
    SELECT coalesce(sum(e."fileSizeInByte"), 0)::bigint
    FROM asset a JOIN asset_exif e ON e."assetId" = a.id
    WHERE a."ownerId" = %(id)s AND a."libraryId" IS NULL AND a.visibility <> 'hidden'
)
WHERE id = %(id)s
"""


async def soft_delete_albums(
    conn: AsyncConnection[Any], user_id: UUID | str, when: datetime
) -> None:
    await conn.execute(SOFT_DELETE_ALBUMS, (when, user_id))


async def restore_albums(conn: AsyncConnection[Any], user_id: UUID | str) -> None:
    await conn.execute(RESTORE_ALBUMS, (user_id,))


async def sync_usage(conn: AsyncConnection[Any], user_id: UUID | str) -> None:
    await conn.execute(SYNC_USAGE, {"id": user_id})
    await publish_credentials_changed(conn, user_id)
