"""The assets of external libraries during a scan: which files are new, importing them, the
offline check, and the batches the scan jobs work through (asset.repository.ts's library
queries). Every list here is one batch: nothing reads a whole library at once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql import jobs as jobs_q

Conn = AsyncConnection[Any]

# One index probe per path of the page ("OFFSET 0" keeps the sub-query a per-row probe of the
# (originalPath, libraryId) index): the cost of a page is its own size, where the anti-join the
# planner would choose reads the whole library's paths for every page.
# The page goes as one JSON text, and the answer comes back as one: psycopg adapts a list of
# 10,000 strings element by element (a quoting check each), json does it in C.
NEW_PATHS = """
SELECT coalesce(json_agg(p.path ORDER BY p.n), '[]') AS paths
FROM json_array_elements_text(%(paths)s::json) WITH ORDINALITY AS p(path, n)
WHERE NOT EXISTS (
  SELECT 1 FROM asset a WHERE a."originalPath" = p.path AND a."libraryId" = %(library)s OFFSET 0
)
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
# Every page of LibrarySyncAssets in one statement, from one snapshot: the library's ids in
# the order the table holds them (one sequential read, where keyset pages by id read the heap at
# random, a page per row), numbered and cut into pages of ``limit``, each page's job with its ids
# as JSON built in PostgreSQL (the ids never travel to Python and back). A page's ids then sit
# together on disk, which is what makes each LibrarySyncAssets' read of its rows cheap.
QUEUE_ASSET_PAGES = """
WITH numbered AS (
  SELECT id, row_number() OVER () AS n FROM asset WHERE "libraryId" = %(library)s
), pages AS (
  SELECT max(n) AS done, jsonb_agg(id::text ORDER BY n) AS ids FROM numbered GROUP BY (n - 1) / %(limit)s
), queued AS (
  INSERT INTO immich_trio.job (queue, name, data, max_attempts)
  SELECT %(queue)s, %(name)s,
         %(data)s::jsonb || jsonb_build_object('assetIds', ids, 'progressCounter', done), %(max_attempts)s
  FROM pages ORDER BY done
  RETURNING id
)
SELECT count(*) AS n FROM queued
"""
# The mtime as whole milliseconds (what Immich compares): no timestamp parsing for 10,000 rows.
# The page comes back as one JSON object of columns (the aggregates of one query level see the
# rows in the same order): decoded in C, and no container per row for the collector to chase.
BY_IDS = """
SELECT json_build_object(
  'ids', coalesce(json_agg(id), '[]'), 'paths', coalesce(json_agg("originalPath"), '[]'),
  'offline', coalesce(json_agg("isOffline"), '[]'), 'status', coalesce(json_agg(status), '[]'),
  'mtimes', coalesce(json_agg(floor(extract(epoch FROM "fileModifiedAt") * 1000)::bigint), '[]'))
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


@attrs.frozen(kw_only=True)
class KnownAssets:
    """A page of library assets as ``LibrarySyncAssets`` checks them, as columns (pages are
    10,000 long): ids, original paths, offline flags, statuses, and the files' mtimes in whole
    milliseconds."""

    ids: list[str]
    paths: list[str]
    offline: list[bool]
    status: list[str]
    mtimes: list[int]

    def __len__(self) -> int:
        return len(self.ids)


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
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(NEW_PATHS, {"paths": json.dumps(list(paths)), "library": library_id})
        row = await cur.fetchone()
    return list(row[0]) if row else []


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


async def queue_asset_pages(conn: Conn, library_id: UUID | str, *, limit: int, data: dict[str, Any]) -> int:
    """Queue ``LibrarySyncAssets`` for every ``limit`` assets of the library, each with the data
    ``data`` plus its ``assetIds`` and ``progressCounter`` (the assets queued up to it); how
    many jobs."""
    name = JobName.LIBRARY_SYNC_ASSETS
    queue = QUEUE_OF[name].value
    cur = await conn.execute(
        QUEUE_ASSET_PAGES,
        {
            "library": library_id, "limit": limit, "queue": queue, "name": name.value, "data": Jsonb(data),
            "max_attempts": jobs_q.DEFAULT_MAX_ATTEMPTS,
        },
    )
    row = await cur.fetchone()
    count = int(row["n"]) if row else 0
    if count:
        await jobs_q.notify(conn, queue)
    return count


async def asset_ids_after(conn: Conn, library_id: UUID | str, after: UUID | None, limit: int) -> list[UUID]:
    """One page of the library's asset ids, in id order after ``after`` (keyset paging)."""
    cur = await conn.execute(
        IDS_AFTER, {"library": library_id, "after": after or UUID(int=0), "limit": limit}
    )
    return [row["id"] for row in await cur.fetchall()]


def _uuid_array(ids: Sequence[str]) -> str:
    """Ids as one array literal: one parameter to send instead of 10,000 to adapt. Each must
    have a uuid's length; PostgreSQL's cast refuses anything else that is not a uuid."""
    if not set(map(len, ids)) <= {36}:
        raise ValueError("asset ids must be uuids")
    return "{" + ",".join(ids) + "}"


async def assets_by_ids(conn: Conn, library_id: UUID | str, ids: Sequence[str]) -> KnownAssets:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(BY_IDS, (_uuid_array(ids), library_id))
        row = await cur.fetchone()
    assert row is not None  # an aggregate always answers
    return KnownAssets(**row[0])


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
