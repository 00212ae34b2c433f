"""External library rows: create, read, update, soft delete and their statistics
(Immich's library.repository.ts). The scan's asset queries are in ``sql/library_scan.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q

Conn = AsyncConnection[Any]

_COLUMNS = """id, name, "ownerId", "importPaths", "exclusionPatterns", "createdAt", "updatedAt",
    "deletedAt", "refreshedAt\""""

CREATE = f"""
INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES (%s, %s, %s, %s)
RETURNING {_COLUMNS}
"""
GET = f'SELECT {_COLUMNS} FROM library WHERE id = %s AND "deletedAt" IS NULL'
GET_ANY = f"SELECT {_COLUMNS} FROM library WHERE id = %s"
LIST = f'SELECT {_COLUMNS} FROM library WHERE "deletedAt" IS NULL ORDER BY "createdAt"'
LIST_DELETED = 'SELECT id FROM library WHERE "deletedAt" IS NOT NULL ORDER BY "createdAt"'
# NULL keeps a column (the field was absent from the update).
UPDATE = f"""
UPDATE library SET name = COALESCE(%s, name),
    "importPaths" = COALESCE(%s, "importPaths"),
    "exclusionPatterns" = COALESCE(%s, "exclusionPatterns")
WHERE id = %s AND "deletedAt" IS NULL
RETURNING {_COLUMNS}
"""
SOFT_DELETE = 'UPDATE library SET "deletedAt" = now() WHERE id = %s AND "deletedAt" IS NULL'
HARD_DELETE = "DELETE FROM library WHERE id = %s"
MARK_REFRESHED = 'UPDATE library SET "refreshedAt" = now() WHERE id = %s'
# Immich counts the library's assets that are not trashed (offline ones are trashed), photos and
# videos apart (hidden ones, the motion parts of live photos, not counted), and their sizes.
STATISTICS = """
SELECT
    count(a.id) FILTER (WHERE a.type = 'IMAGE' AND a.visibility <> 'hidden') AS photos,
    count(a.id) FILTER (WHERE a.type = 'VIDEO' AND a.visibility <> 'hidden') AS videos,
    coalesce(sum(e."fileSizeInByte"), 0) AS usage
FROM library l
LEFT JOIN asset a ON a."libraryId" = l.id AND a."deletedAt" IS NULL
LEFT JOIN asset_exif e ON e."assetId" = a.id
WHERE l.id = %s AND l."deletedAt" IS NULL
GROUP BY l.id
"""


@attrs.frozen(kw_only=True)
class LibraryStats:
    photos: int
    videos: int
    usage: int


async def create(
    conn: Conn, *, owner_id: UUID, name: str, import_paths: Sequence[str], exclusion_patterns: Sequence[str]
) -> dict[str, Any]:
    cur = await conn.execute(CREATE, (name, owner_id, list(import_paths), list(exclusion_patterns)))
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def get(conn: Conn, library_id: UUID | str) -> dict[str, Any] | None:
    """The library unless deleted (soft or hard)."""
    cur = await conn.execute(GET, (library_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def get_any(conn: Conn, library_id: UUID | str) -> dict[str, Any] | None:
    """The library, soft-deleted ones included."""
    cur = await conn.execute(GET_ANY, (library_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def list_all(conn: Conn) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST)
    return list(await cur.fetchall())


async def update(
    conn: Conn,
    library_id: UUID,
    *,
    name: str | None,
    import_paths: Sequence[str] | None,
    exclusion_patterns: Sequence[str] | None,
) -> dict[str, Any] | None:
    cur = await conn.execute(
        UPDATE,
        (
            name,
            list(import_paths) if import_paths is not None else None,
            list(exclusion_patterns) if exclusion_patterns is not None else None,
            library_id,
        ),
    )
    row: dict[str, Any] | None = await cur.fetchone()
    return row


def library_delete_key(library_id: UUID | str) -> str:
    return f"library-delete:{library_id}"


async def soft_delete(conn: Conn, library_id: UUID) -> bool:
    """Mark the library deleted and queue ``LibraryDelete {id}`` (same transaction)."""
    cur = await conn.execute(SOFT_DELETE, (library_id,))
    if not cur.rowcount:
        return False
    await jobs_q.enqueue_job(
        conn, JobName.LIBRARY_DELETE, {"id": str(library_id)}, dedupe_key=library_delete_key(library_id)
    )
    return True


async def enqueue_pending_deletions(conn: Conn) -> int:
    """``LibraryDelete {id}`` for every soft-deleted library (``LibraryDeleteCheck``)."""
    cur = await conn.execute(LIST_DELETED)
    ids = [row["id"] for row in await cur.fetchall()]
    for library_id in ids:
        await jobs_q.enqueue_job(
            conn, JobName.LIBRARY_DELETE, {"id": str(library_id)}, dedupe_key=library_delete_key(library_id)
        )
    return len(ids)


async def hard_delete(conn: Conn, library_id: UUID | str) -> None:
    await conn.execute(HARD_DELETE, (library_id,))


async def mark_refreshed(conn: Conn, library_id: UUID | str) -> None:
    await conn.execute(MARK_REFRESHED, (library_id,))


async def statistics(conn: Conn, library_id: UUID) -> LibraryStats | None:
    cur = await conn.execute(STATISTICS, (library_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return LibraryStats(photos=int(row["photos"]), videos=int(row["videos"]), usage=int(row["usage"]))


async def enqueue_scan(conn: Conn, library_id: UUID | str) -> None:
    """A scan of one library: the disk walk for new files, then the check of known assets."""
    data = {"id": str(library_id)}
    await jobs_q.enqueue_job(conn, JobName.LIBRARY_SYNC_FILES_QUEUE_ALL, data)
    await jobs_q.enqueue_job(conn, JobName.LIBRARY_SCAN_ASSETS_QUEUE_ALL, data)


# One process watches the libraries (Immich's DatabaseLock.Library): a session-level advisory
# lock, held on the watcher's own connection for as long as it watches.
WATCH_LOCK_KEY = "hashtext('immich-trio:library-watch')"


async def try_watch_lock(conn: Conn) -> bool:
    cur = await conn.execute(f"SELECT pg_try_advisory_lock({WATCH_LOCK_KEY}) AS held")
    row = await cur.fetchone()
    return bool(row and row["held"])


async def release_watch_lock(conn: Conn) -> None:
    await conn.execute(f"SELECT pg_advisory_unlock({WATCH_LOCK_KEY})")
