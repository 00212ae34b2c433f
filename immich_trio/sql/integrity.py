"""Immich's ``integrity_report`` table: the three reports (missing, untracked, checksum) and
the lookups the integrity jobs make (which paths are tracked, which assets to hash).

Reports are keyed by ``(type, path)`` (Immich's unique constraint); writing one again updates
its asset links, so a batch that runs twice (a retried job) leaves the same rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

MISSING_FILE = "missing_file"
UNTRACKED_FILE = "untracked_file"
CHECKSUM_MISMATCH = "checksum_mismatch"
REPORT_TYPES = (CHECKSUM_MISMATCH, MISSING_FILE, UNTRACKED_FILE)

SUMMARY = 'SELECT type, count(*)::int AS count FROM integrity_report GROUP BY type'
PAGE = """
SELECT id, type, path FROM integrity_report
WHERE type = %(type)s AND (%(cursor)s::uuid IS NULL OR id <= %(cursor)s::uuid)
ORDER BY id DESC LIMIT %(limit)s
"""
AFTER = """
SELECT id, type, path, "assetId", "fileAssetId" FROM integrity_report
WHERE (%(type)s::text IS NULL OR type = %(type)s) AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id LIMIT %(limit)s
"""
GET = 'SELECT id, type, path, "assetId", "fileAssetId" FROM integrity_report WHERE id = %s'
DELETE_IDS = "DELETE FROM integrity_report WHERE id = ANY(%s::uuid[])"
UPSERT = """
INSERT INTO integrity_report (type, path, "assetId", "fileAssetId")
SELECT %(type)s, r.path, r.asset_id, r.file_asset_id
FROM unnest(%(paths)s::text[], %(asset_ids)s::uuid[], %(file_asset_ids)s::uuid[])
     AS r(path, asset_id, file_asset_id)
ON CONFLICT (type, path) DO UPDATE
SET "assetId" = EXCLUDED."assetId", "fileAssetId" = EXCLUDED."fileAssetId"
"""
DELETE_PATHS = "DELETE FROM integrity_report WHERE type = %s AND path = ANY(%s::text[])"
TRACKED = """
SELECT a."originalPath" AS path FROM asset a WHERE a."originalPath" = ANY(%(paths)s::text[])
UNION SELECT f.path FROM asset_file f WHERE f.path = ANY(%(paths)s::text[])
UNION SELECT p."thumbnailPath" FROM person p WHERE p."thumbnailPath" = ANY(%(paths)s::text[])
"""
# Every file the database expects on disk: originals (with their asset), generated files (with
# their asset_file row). Keyset-paged by (kind, id) so a scan streams.
EXPECTED_ASSETS = """
SELECT a.id, a."originalPath" AS path FROM asset a
WHERE a."deletedAt" IS NULL AND NOT a."isOffline" AND (%(after)s::uuid IS NULL OR a.id > %(after)s::uuid)
ORDER BY a.id LIMIT %(limit)s
"""
EXPECTED_FILES = """
SELECT f.id, f.path, f."assetId" FROM asset_file f
WHERE (%(after)s::uuid IS NULL OR f.id > %(after)s::uuid)
ORDER BY f.id LIMIT %(limit)s
"""
# One page in ("createdAt", id) order after the checkpoint. The explicit "createdAt" bound lets
# the scan start in ``asset_createdAt_idx`` (a row comparison alone reads the whole table on
# every page: quadratic over a run), and the report lookup joins only the page's rows.
CHECKSUMS = """
WITH page AS (
    SELECT a.id, a."originalPath" AS path, a.checksum, a."createdAt"
    FROM asset a
    WHERE a."deletedAt" IS NULL AND NOT a."isOffline" AND a."checksumAlgorithm" = 'sha1'
      AND a."createdAt" >= %(after_at)s
      AND (a."createdAt", a.id) > (%(after_at)s, %(after_id)s::uuid)
    ORDER BY a."createdAt", a.id LIMIT %(limit)s
)
SELECT page.*, r.id AS "reportId"
FROM page
LEFT JOIN integrity_report r ON r.type = 'checksum_mismatch' AND r.path = page.path
ORDER BY page."createdAt", page.id
"""
START_AT = datetime(1, 1, 1, tzinfo=UTC)
START_ID = "00000000-0000-0000-0000-000000000000"
TRASH = """
UPDATE asset SET "deletedAt" = now(), status = 'trashed'
WHERE id = ANY(%s::uuid[]) AND "deletedAt" IS NULL
RETURNING id, "ownerId"
"""
DELETE_FILES = 'DELETE FROM asset_file WHERE id = ANY(%s::uuid[]) RETURNING path'


async def summary(conn: Conn) -> dict[str, int]:
    rows = await (await conn.execute(SUMMARY)).fetchall()
    counts = {row["type"]: row["count"] for row in rows}
    return {kind: counts.get(kind, 0) for kind in REPORT_TYPES}


async def page(conn: Conn, kind: str, cursor: str | None, limit: int) -> list[dict[str, Any]]:
    """``limit + 1`` rows newest first from ``cursor`` (the extra row is the next cursor)."""
    params = {"type": kind, "cursor": cursor, "limit": limit + 1}
    return list(await (await conn.execute(PAGE, params)).fetchall())


async def reports_after(
    conn: Conn, kind: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    params = {"type": kind, "after": after, "limit": limit}
    return list(await (await conn.execute(AFTER, params)).fetchall())


async def stream(conn: Conn, kind: str | None, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every report of ``kind`` (all kinds for None), oldest first, ``batch`` rows at a time."""
    after: str | None = None
    while rows := await reports_after(conn, kind, after, batch):
        for row in rows:
            yield row
        after = str(rows[-1]["id"])


async def get(conn: Conn, report_id: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = await (await conn.execute(GET, (report_id,))).fetchone()
    return row


async def delete_ids(conn: Conn, ids: Sequence[str]) -> None:
    if ids:
        await conn.execute(DELETE_IDS, (list(ids),))


async def delete_paths(conn: Conn, kind: str, paths: Sequence[str]) -> None:
    if paths:
        await conn.execute(DELETE_PATHS, (kind, list(paths)))


async def upsert(
    conn: Conn,
    kind: str,
    paths: Sequence[str],
    *,
    asset_ids: Sequence[str | None] | None = None,
    file_asset_ids: Sequence[str | None] | None = None,
) -> None:
    if not paths:
        return
    none: list[str | None] = [None] * len(paths)
    await conn.execute(
        UPSERT,
        {
            "type": kind,
            "paths": list(paths),
            "asset_ids": list(asset_ids) if asset_ids is not None else none,
            "file_asset_ids": list(file_asset_ids) if file_asset_ids is not None else none,
        },
    )


async def tracked(conn: Conn, paths: Sequence[str]) -> set[str]:
    """The paths among ``paths`` that an asset, asset file or person thumbnail references."""
    if not paths:
        return set()
    rows = await (await conn.execute(TRACKED, {"paths": list(paths)})).fetchall()
    return {row["path"] for row in rows}


async def expected_assets(conn: Conn, after: str | None, limit: int) -> list[dict[str, Any]]:
    return list(await (await conn.execute(EXPECTED_ASSETS, {"after": after, "limit": limit})).fetchall())


async def expected_files(conn: Conn, after: str | None, limit: int) -> list[dict[str, Any]]:
    return list(await (await conn.execute(EXPECTED_FILES, {"after": after, "limit": limit})).fetchall())


async def checksums_after(
    conn: Conn, after_at: datetime | None, after_id: str | None, limit: int
) -> list[dict[str, Any]]:
    params = {"after_at": after_at or START_AT, "after_id": after_id or START_ID, "limit": limit}
    return list(await (await conn.execute(CHECKSUMS, params)).fetchall())


async def trash_assets(conn: Conn, asset_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not asset_ids:
        return []
    return list(await (await conn.execute(TRASH, (list(asset_ids),))).fetchall())


async def delete_asset_files(conn: Conn, file_ids: Sequence[str]) -> list[str]:
    """Removes the rows (their reports go with them, ON DELETE CASCADE); returns their paths."""
    if not file_ids:
        return []
    rows = await (await conn.execute(DELETE_FILES, (list(file_ids),))).fetchall()
    return [row["path"] for row in rows]


REPORT_CHECKSUMS = """
SELECT r.id, a.checksum FROM integrity_report r JOIN asset a ON a.id = r."assetId"
WHERE r.id = ANY(%s::uuid[])
"""


async def report_checksums(conn: Conn, report_ids: Sequence[str]) -> dict[str, bytes]:
    """The asset checksum behind each checksum report (reports without an asset are absent)."""
    if not report_ids:
        return {}
    rows = await (await conn.execute(REPORT_CHECKSUMS, (list(report_ids),))).fetchall()
    return {str(row["id"]): bytes(row["checksum"]) for row in rows}


async def asset_count(conn: Conn) -> int:
    row = await (await conn.execute("SELECT count(*)::int AS n FROM asset")).fetchone()
    return int(row["n"]) if row else 0
