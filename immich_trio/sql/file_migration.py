"""Queries of the file migration (the ``migration`` queue): the fan-out of
``FileMigrationQueueAll`` into one job per asset and per person, and the files each job moves."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql.jobs import notify

Conn = AsyncConnection[Any]

# Immich's streamForMigrationJob (assets not deleted) and every person, one INSERT … SELECT each.
QUEUE_ASSETS = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a WHERE a."deletedAt" IS NULL
ORDER BY a."createdAt", a.id
"""
QUEUE_PEOPLE = """
INSERT INTO immich_trio.job (queue, name, data)
SELECT %(queue)s, %(name)s, jsonb_build_object('id', p.id::text)
FROM person p ORDER BY p."createdAt", p.id
"""
# Immich's getForMigrationJob: the owner and the unedited generated files.
ASSET_FILES = """
SELECT a."ownerId", coalesce(
         jsonb_object_agg(f.type, f.path) FILTER (WHERE f.type IS NOT NULL), '{}'::jsonb) AS files
FROM asset a
LEFT JOIN asset_file f ON f."assetId" = a.id AND NOT f."isEdited"
WHERE a.id = %(id)s
GROUP BY a.id
"""
PERSON = 'SELECT "ownerId", "thumbnailPath" FROM person WHERE id = %(id)s'
MIGRATION_JOBS = """
SELECT count(*) FILTER (WHERE status = 'active') AS active,
       count(*) FILTER (WHERE status = 'waiting') AS waiting
FROM immich_trio.job WHERE queue = %(queue)s
"""


async def queue_all(conn: Conn) -> int:
    """An ``AssetFileMigration`` per asset, then a ``PersonFileMigration`` per person."""
    queue = QueueName.MIGRATION.value
    assets = await conn.execute(QUEUE_ASSETS, {"queue": queue, "name": JobName.ASSET_FILE_MIGRATION.value})
    people = await conn.execute(QUEUE_PEOPLE, {"queue": queue, "name": JobName.PERSON_FILE_MIGRATION.value})
    count = assets.rowcount + people.rowcount
    if count:
        await notify(conn, queue)
    return count


async def only_job_running(conn: Conn) -> bool:
    """Whether the queue holds one active job and none waiting (Immich then tidies the folders)."""
    cur = await conn.execute(MIGRATION_JOBS, {"queue": QueueName.MIGRATION.value})
    row = await cur.fetchone()
    return row is not None and row["active"] == 1 and row["waiting"] == 0


async def asset_files(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """``{ownerId, files: {type: path}}`` of the asset's unedited files, or None when it is gone."""
    cur = await conn.execute(ASSET_FILES, {"id": asset_id})
    return await cur.fetchone()


async def person(conn: Conn, person_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(PERSON, {"id": person_id})
    return await cur.fetchone()
