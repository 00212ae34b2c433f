"""Facial recognition (clustering faces into people): the face a job works on, Immich's
``searchFaces`` nearest-neighbour query, the person it creates, and the set-based queueing of
``FacialRecognitionQueueAll`` with its ``facial-recognition-state``.

Distances are cosine (pgvector ``<=>``) over ``face_search.embedding``, so the HNSW
``face_index`` (vector_cosine_ops) can serve the ``ORDER BY distance LIMIT k``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql import system_metadata
from immich_trio.sql.jobs.model import notify

Conn = AsyncConnection[Any]
Row = dict[str, Any]

FACIAL_RECOGNITION_STATE = "facial-recognition-state"
"""``system_metadata`` key: ``{lastRun: ISO string}``, the start of the last queue-all run."""

MACHINE_LEARNING = "machine-learning"

# Immich's getFaceForFacialRecognitionJob: the face (not soft-deleted), its asset's owner,
# visibility and date, and its embedding (absent when detection stored none).
FACE_FOR_JOB = """
SELECT f.id, f."personId", f."sourceType", a.id AS "assetId", a."ownerId", a.visibility,
       a."fileCreatedAt", s."faceId" IS NOT NULL AS "hasEmbedding"
FROM asset_face f
LEFT JOIN asset a ON a.id = f."assetId"
LEFT JOIN face_search s ON s."faceId" = f.id
WHERE f.id = %s AND f."deletedAt" IS NULL
"""

# Immich's searchFaces around one face's own embedding (read in the query, so the 512 floats
# never travel): the owner's ``limit`` nearest faces on live assets (the face itself
# included), then those within ``max_distance``. ``has_person`` keeps assigned faces only;
# ``min_birth`` leaves out people born after the photo was taken.
SEARCH_FACES = """
WITH cte AS (
    SELECT f.id, f."personId",
           s.embedding <=> (SELECT embedding FROM face_search WHERE "faceId" = %(face)s) AS distance
    FROM asset_face f
    JOIN asset a ON a.id = f."assetId"
    JOIN face_search s ON s."faceId" = f.id
    LEFT JOIN person p ON p.id = f."personId"
    WHERE a."ownerId" = %(owner)s AND a."deletedAt" IS NULL
      AND (NOT %(has_person)s OR f."personId" IS NOT NULL)
      AND (%(min_birth)s::timestamptz IS NULL OR p."birthDate" IS NULL
           OR p."birthDate" <= %(min_birth)s::timestamptz)
    ORDER BY distance
    LIMIT %(limit)s)
SELECT id, "personId", distance FROM cte WHERE distance <= %(max_distance)s ORDER BY distance
"""

# One owner's clustering at a time, in every process: a face's search and the person it may
# create commit before the next face of that owner is searched, so two jobs never both
# create a person for one cluster.
LOCK_OWNER = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

CREATE_PERSON = 'INSERT INTO person ("ownerId", "faceAssetId") VALUES (%s, %s) RETURNING id'
ASSIGN_FACE = 'UPDATE asset_face SET "personId" = %s WHERE id = %s'
UNASSIGN_FACES = """
UPDATE asset_face SET "personId" = NULL
WHERE "sourceType" = %s AND "personId" IS NOT NULL
"""
LATEST_FACE_DATE = 'SELECT max("facesRecognizedAt") AS latest FROM asset_job_status'

# Immich's getAllFaces: visible, non-deleted faces; unassigned machine-learning ones unless
# ``force``. One job per face, ``deferred: false``, in one statement however many faces.
_QUEUE_FACES = """
INSERT INTO immich_trio.job (queue, name, data)
SELECT %(queue)s, %(name)s, jsonb_build_object('id', f.id::text, 'deferred', false)
FROM asset_face f
WHERE f."deletedAt" IS NULL AND f."isVisible" IS TRUE
  AND (%(force)s OR (f."personId" IS NULL AND f."sourceType" = %(source)s))
"""
_ACTIVE_JOBS = """
SELECT count(*) AS active FROM immich_trio.job WHERE queue = ANY(%s) AND status = 'active'
"""


async def face_for_job(conn: Conn, face_id: UUID | str) -> Row | None:
    cur = await conn.execute(FACE_FOR_JOB, (face_id,))
    row: Row | None = await cur.fetchone()
    return row


async def search_faces(
    conn: Conn,
    *,
    owner_id: UUID,
    face_id: UUID,
    max_distance: float,
    limit: int,
    has_person: bool = False,
    min_birth: datetime | None = None,
) -> list[Row]:
    """The faces nearest ``face_id``'s embedding (``id``, ``personId``, ``distance``), nearest first."""
    cur = await conn.execute(
        SEARCH_FACES,
        {
            "face": face_id,
            "owner": owner_id,
            "has_person": has_person,
            "min_birth": min_birth,
            "limit": limit,
            "max_distance": max_distance,
        },
    )
    return await cur.fetchall()


async def lock_owner(conn: Conn, owner_id: UUID) -> None:
    """Hold the owner's clustering lock until the transaction ends."""
    await conn.execute(LOCK_OWNER, (f"immich-trio:facial-recognition:{owner_id}",))


async def create_person(conn: Conn, owner_id: UUID, face_id: UUID) -> UUID:
    """A nameless person of ``owner_id`` whose feature face is ``face_id``."""
    cur = await conn.execute(CREATE_PERSON, (owner_id, face_id))
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def assign_face(conn: Conn, face_id: UUID, person_id: UUID) -> None:
    await conn.execute(ASSIGN_FACE, (person_id, face_id))


async def unassign_machine_learning_faces(conn: Conn) -> int:
    """Take every machine-learning face off its person (manual faces keep theirs)."""
    cur = await conn.execute(UNASSIGN_FACES, (MACHINE_LEARNING,))
    return cur.rowcount


async def latest_face_date(conn: Conn) -> datetime | None:
    """When faces were last detected on any asset (``asset_job_status.facesRecognizedAt``)."""
    cur = await conn.execute(LATEST_FACE_DATE)
    row = await cur.fetchone()
    return None if row is None else row["latest"]


async def active_jobs(conn: Conn, queues: list[str]) -> int:
    """Jobs running now on any of ``queues``."""
    cur = await conn.execute(_ACTIVE_JOBS, (queues,))
    row = await cur.fetchone()
    return 0 if row is None else int(row["active"])


async def queue_faces(conn: Conn, *, force: bool) -> int:
    """``FacialRecognition {id, deferred: false}`` for each face to cluster; how many."""
    name = JobName.FACIAL_RECOGNITION
    queue = QUEUE_OF[name].value
    cur = await conn.execute(
        _QUEUE_FACES, {"queue": queue, "name": name.value, "force": force, "source": MACHINE_LEARNING}
    )
    if cur.rowcount:
        await notify(conn, queue)
    return cur.rowcount


async def last_run(conn: Conn) -> str | None:
    state = await system_metadata.get(conn, FACIAL_RECOGNITION_STATE)
    value = state.get("lastRun") if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


async def set_last_run(conn: Conn, when: str) -> None:
    await system_metadata.set_value(conn, FACIAL_RECOGNITION_STATE, {"lastRun": when})
