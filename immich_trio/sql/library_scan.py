"""The assets of external libraries during a scan: which files are new, importing them, the
offline check, and the batches the scan jobs work through (asset.repository.ts's library
queries). Every list here is one batch: nothing reads a whole library at once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import attrs
from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q

Conn = AsyncConnection[Any]

NEW_PATHS = """
SELECT p.path FROM unnest(%(paths)s::text[]) WITH ORDINALITY AS p(path, n)
WHERE NOT EXISTS (SELECT 1 FROM asset a WHERE a."originalPath" = p.path AND a."libraryId" = %(library)s)
ORDER BY p.n
"""
# Immich's library import: a path checksum (sha1 of "path:<path>"), dates from the file's mtime
# until metadata extraction reads better ones. The unique (owner, library, checksum) index makes
# a batch imported twice (a scan re-run after a crash) a no-op.
INSERT_ASSETS = """
INSERT INTO asset ("ownerId", "libraryId", type, "originalPath", "originalFileName", checksum,
    "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "isExternal")
SELECT %(owner)s, %(library)s, f.type, f.path, f.name, f.checksum, 'sha1-path', f.mtime, f.mtime, f.mtime, true
FROM unnest(%(types)s::text[], %(paths)s::text[], %(names)s::text[], %(checksums)s::bytea[],
            %(mtimes)s::timestamptz[]) AS f(type, path, name, checksum, mtime)
ON CONFLICT ("ownerId", "libraryId", checksum) WHERE "libraryId" IS NOT NULL DO NOTHING
RETURNING id, "originalPath"
"""
INSERT_SIZES = """
INSERT INTO asset_exif ("assetId", "fileSizeInByte")
SELECT x.id, x.size FROM unnest(%(ids)s::uuid[], %(sizes)s::bigint[]) AS x(id, size)
ON CONFLICT ("assetId") DO NOTHING
"""
COUNT = 'SELECT count(*) AS n FROM asset WHERE "libraryId" = %s'
IDS_AFTER = """
SELECT id FROM asset WHERE "libraryId" = %(library)s AND id > %(after)s ORDER BY id LIMIT %(limit)s
"""
# The mtime as whole milliseconds (what Immich compares): no timestamp parsing for 10,000 rows.
BY_IDS = """
SELECT id::text, "originalPath", "isOffline", status::text,
       floor(extract(epoch FROM "fileModifiedAt") * 1000)::bigint
FROM asset WHERE id = ANY(%s::uuid[]) AND "libraryId" = %s
"""
# Outside every import path, or inside an exclusion pattern: offline and trashed at once.
DETECT_OFFLINE = """
UPDATE asset SET "isOffline" = true, "deletedAt" = now()
WHERE "libraryId" = %(library)s AND "isExternal" AND NOT "isOffline"
  AND (NOT ("originalPath" LIKE ANY(%(prefixes)s::text[])) OR "originalPath" LIKE ANY(%(excluded)s::text[]))
"""
SET_OFFLINE = 'UPDATE asset SET "isOffline" = true, "deletedAt" = COALESCE(%s, "deletedAt") WHERE id = ANY(%s::uuid[])'
SET_ONLINE_UNTRASH = 'UPDATE asset SET "isOffline" = false, "deletedAt" = NULL WHERE id = ANY(%s::uuid[])'
SET_ONLINE = 'UPDATE asset SET "isOffline" = false WHERE id = ANY(%s::uuid[])'
SET_MODIFIED = """
UPDATE asset SET "fileModifiedAt" = x.mtime
FROM unnest(%s::uuid[], %s::timestamptz[]) AS x(id, mtime) WHERE asset.id = x.id
"""
TRASH_ALL = 'UPDATE asset SET "deletedAt" = now() WHERE "libraryId" = %s AND "deletedAt" IS NULL'
BY_PATH = 'SELECT id FROM asset WHERE "libraryId" = %s AND "originalPath" = %s'


@attrs.frozen(kw_only=True)
class FoundFile:
    """A file the walk found, as imported: its path, kind (``IMAGE``/``VIDEO``), mtime, size."""

    path: str
    type: str
    mtime: datetime
    size: int


class KnownAsset(NamedTuple):
    """A library asset as ``LibrarySyncAssets`` checks it (a plain tuple: pages are 10,000 long)."""

    id: str
    original_path: str
    is_offline: bool
    status: str
    modified_ms: int


def path_checksum(path: str) -> bytes:
    """Immich's checksum of a library file: SHA-1 of ``path:<absolute path>``."""
    return hashlib.sha1(f"path:{path}".encode()).digest()


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def glob_to_like(pattern: str) -> str:
    """An exclusion glob as a LIKE pattern (Immich's ``globToSqlPattern``): ``**`` and ``*``
    become ``%``, ``?`` becomes ``_``, the rest is literal."""
    out: list[str] = []
    for char in pattern:
        if char == "*":
            if not out or out[-1] != "%":
                out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(like_escape(char))
    return "".join(out)


async def new_paths(conn: Conn, library_id: UUID | str, paths: Sequence[str]) -> list[str]:
    """The paths of ``paths`` that are no asset of the library yet."""
    cur = await conn.execute(NEW_PATHS, {"paths": list(paths), "library": library_id})
    return [row["path"] for row in await cur.fetchall()]


async def import_files(
    conn: Conn, *, owner_id: UUID | str, library_id: UUID | str, files: Sequence[FoundFile]
) -> list[UUID]:
    """Insert the files as external assets and queue their sidecar discovery, which queues
    their metadata extraction (then thumbnails and the rest, as an upload does), as Immich's
    ``queuePostSyncJobs``; the new asset ids."""
    if not files:
        return []
    cur = await conn.execute(
        INSERT_ASSETS,
        {
            "owner": owner_id,
            "library": library_id,
            "types": [f.type for f in files],
            "paths": [f.path for f in files],
            "names": [f.path.rsplit("/", 1)[-1] for f in files],
            "checksums": [path_checksum(f.path) for f in files],
            "mtimes": [f.mtime for f in files],
        },
    )
    rows = await cur.fetchall()
    ids = [row["id"] for row in rows]
    size_of = {f.path: f.size for f in files}
    await conn.execute(INSERT_SIZES, {"ids": ids, "sizes": [size_of[row["originalPath"]] for row in rows]})
    await jobs_q.enqueue_for_assets(conn, JobName.SIDECAR_CHECK, ids, {"source": "upload"})
    return ids


async def count_assets(conn: Conn, library_id: UUID | str) -> int:
    cur = await conn.execute(COUNT, (library_id,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def asset_ids_after(conn: Conn, library_id: UUID | str, after: UUID | None, limit: int) -> list[UUID]:
    """One page of the library's asset ids, in id order after ``after`` (keyset paging)."""
    cur = await conn.execute(
        IDS_AFTER, {"library": library_id, "after": after or UUID(int=0), "limit": limit}
    )
    return [row["id"] for row in await cur.fetchall()]


_UUID_LIST = re.compile(r"(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})?(?:,[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})*")


def _uuid_array(ids: Sequence[str]) -> str:
    """Ids as one array literal: one parameter to send instead of 10,000 to adapt."""
    text = ",".join(ids)
    if not _UUID_LIST.fullmatch(text):  # only uuids go into the literal
        raise ValueError("asset ids must be uuids")
    return "{" + text + "}"


async def assets_by_ids(conn: Conn, library_id: UUID | str, ids: Sequence[str]) -> list[KnownAsset]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(BY_IDS, (_uuid_array(ids), library_id))
        return [KnownAsset(*row) for row in await cur.fetchall()]


async def detect_offline(
    conn: Conn, library_id: UUID | str, import_paths: Sequence[str], exclusion_patterns: Sequence[str]
) -> int:
    """Take offline (and trash) the library's online assets outside every import path or
    inside an exclusion pattern; how many."""
    cur = await conn.execute(
        DETECT_OFFLINE,
        {
            "library": library_id,
            "prefixes": [like_escape(p) + "%" for p in import_paths],
            "excluded": [glob_to_like(p) for p in exclusion_patterns],
        },
    )
    return cur.rowcount


async def set_offline(conn: Conn, ids: Sequence[str], *, trash_at: datetime | None) -> None:
    """Offline; trashed at ``trash_at`` unless None (already trashed ones keep their date)."""
    if ids:
        await conn.execute(SET_OFFLINE, (trash_at, list(ids)))


async def set_online(conn: Conn, ids: Sequence[str], *, untrash: bool) -> None:
    if ids:
        await conn.execute(SET_ONLINE_UNTRASH if untrash else SET_ONLINE, (list(ids),))


async def refresh_changed(conn: Conn, changed: Sequence[tuple[str, datetime]]) -> None:
    """Files changed on disk: the new mtime, and sidecar discovery, then metadata extraction
    (then thumbnails) again."""
    if not changed:
        return
    await conn.execute(SET_MODIFIED, ([i for i, _ in changed], [m for _, m in changed]))
    await jobs_q.enqueue_for_assets(conn, JobName.SIDECAR_CHECK, [i for i, _ in changed], {"source": "upload"})


async def trash_all(conn: Conn, library_id: UUID | str) -> None:
    await conn.execute(TRASH_ALL, (library_id,))


async def asset_by_path(conn: Conn, library_id: UUID | str, path: str) -> UUID | None:
    cur = await conn.execute(BY_PATH, (library_id, path))
    row = await cur.fetchone()
    return row["id"] if row else None


IDS_BY_PATHS = """
SELECT id FROM asset WHERE "libraryId" = %s AND "originalPath" = ANY(%s::text[]) ORDER BY id
"""


async def queue_watched_changes(
    conn: Conn, library: dict[str, Any], *, changed: Sequence[str], removed: Sequence[str]
) -> None:
    """What the watcher saw, as the scan's own jobs: new files ``LibrarySyncFiles``, known ones
    ``LibrarySyncAssets`` (changed, back online, gone), unlinked ones ``LibraryRemoveAsset``."""
    library_id = str(library["id"])
    fresh = await new_paths(conn, library_id, changed) if changed else []
    if fresh:
        await jobs_q.enqueue_job(conn, JobName.LIBRARY_SYNC_FILES, {"libraryId": library_id, "paths": fresh})
    known = [p for p in changed if p not in set(fresh)]
    if known:
        cur = await conn.execute(IDS_BY_PATHS, (library_id, known))
        ids = [str(row["id"]) for row in await cur.fetchall()]
        if ids:
            payload = {
                "libraryId": library_id,
                "importPaths": list(library["importPaths"]),
                "exclusionPatterns": list(library["exclusionPatterns"]),
                "assetIds": ids,
                "progressCounter": len(ids),
                "totalAssets": len(ids),
            }
            await jobs_q.enqueue_job(conn, JobName.LIBRARY_SYNC_ASSETS, payload)
    if removed:
        await jobs_q.enqueue_job(conn, JobName.LIBRARY_REMOVE_ASSET, {"libraryId": library_id, "paths": list(removed)})
