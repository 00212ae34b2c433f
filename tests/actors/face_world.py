"""A world of detected faces for the facial-recognition tests: assets, faces and 512-d
embeddings written straight into the database (as face detection would leave them), a real
dispatcher with the facial-recognition actor, and what the clustering made of them."""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import trio
from media_harness import LIMIT, POLL
from psycopg.types.json import Jsonb

from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.face_recognition import JOBS, FacialRecognitionActor
from immich_trio.jobs.names import JobName
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
Vector = list[float]
DIM = 512
TAKEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


def recognition_config(*, enabled: bool = True, min_faces: int = 3, max_distance: float = 0.5) -> dict[str, Any]:
    return {
        "machineLearning": {
            "enabled": True,
            "clip": {"enabled": False},
            "duplicateDetection": {"enabled": False},
            "ocr": {"enabled": False},
            "facialRecognition": {"enabled": enabled, "minFaces": min_faces, "maxDistance": max_distance},
        }
    }


def save_config(sql: Sql, config: dict[str, Any]) -> None:
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(config),),
    )


def unit(values: Sequence[float]) -> Vector:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def basis(*weights: tuple[int, float]) -> Vector:
    """A unit vector from ``(axis, weight)`` pairs."""
    out = [0.0] * DIM
    for axis, weight in weights:
        out[axis] = weight
    return unit(out)


def cluster(rng: random.Random, size: int, spread: float = 0.3) -> list[Vector]:
    """``size`` embeddings around one random direction: ~0.1 cosine distance apart, while two
    random directions are ~1 apart."""
    centre = unit([rng.gauss(0, 1) for _ in range(DIM)])
    scale = spread / math.sqrt(DIM)
    return [unit([c + rng.gauss(0, scale) for c in centre]) for _ in range(size)]


def text(vector: Vector) -> str:
    return "[" + ",".join(f"{v:.6f}" for v in vector) + "]"


def make_user(sql: Sql, email: str) -> str:
    [(user_id,)] = sql('INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id::text',
                       (email, "x", email))  # fmt: skip
    return str(user_id)


def make_asset(sql: Sql, owner: str, *, visibility: str = "timeline", taken: datetime = TAKEN) -> str:
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", visibility)'
        " VALUES (%s, %s, 'IMAGE', %s, 'a.jpg', %s, 'sha1', %s, %s, %s, %s)",
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], taken, taken, taken, visibility),
    )
    return asset_id


def make_face(sql: Sql, asset: str, embedding: Vector | None, *, source: str = "machine-learning",
              person: str | None = None) -> str:  # fmt: skip
    [(face_id,)] = sql(
        'INSERT INTO asset_face ("assetId", "personId", "sourceType", "imageWidth", "imageHeight",'
        ' "boundingBoxX1", "boundingBoxY1", "boundingBoxX2", "boundingBoxY2")'
        " VALUES (%s, %s, %s, 100, 100, 10, 10, 50, 50) RETURNING id::text",
        (asset, person, source),
    )
    if embedding is not None:
        sql('INSERT INTO face_search ("faceId", embedding) VALUES (%s, %s::vector)', (face_id, text(embedding)))
    return str(face_id)


def faces_on_new_assets(sql: Sql, owner: str, embeddings: Sequence[Vector], **asset: Any) -> list[str]:
    """One asset per embedding, with its one face."""
    return [make_face(sql, make_asset(sql, owner, **asset), e) for e in embeddings]


def queue(sql: Sql, name: JobName, data: dict[str, Any]) -> None:
    """Queue a job as another part of the server would (and wake the dispatchers)."""
    queue_name = "facialRecognition" if name != JobName.PERSON_GENERATE_THUMBNAIL else "thumbnailGeneration"
    sql("INSERT INTO immich_trio.job (queue, name, data) VALUES (%s, %s, %s)", (queue_name, name.value, Jsonb(data)))
    sql("SELECT pg_notify('immich_trio_jobs', %s)", (queue_name,))


def people(sql: Sql) -> dict[str, set[str]]:
    """Each person's faces (people without faces included)."""
    rows = sql('SELECT p.id::text, f.id::text FROM person p LEFT JOIN asset_face f ON f."personId" = p.id')
    out: dict[str, set[str]] = {}
    for person, face in rows:
        out.setdefault(person, set())
        if face is not None:
            out[person].add(face)
    return out


def groups(sql: Sql) -> set[frozenset[str]]:
    """The clusters as sets of face ids, whoever the people are."""
    return {frozenset(faces) for faces in people(sql).values()}


def unassigned(sql: Sql) -> set[str]:
    return {face for (face,) in sql('SELECT id::text FROM asset_face WHERE "personId" IS NULL')}


def thumbnail_jobs(sql: Sql) -> set[str]:
    rows = sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'PersonGenerateThumbnail'")
    return {person for (person,) in rows}


class Wall:
    """A wall clock the test sets."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@asynccontextmanager
async def recognition(pool: Pool, wall: Wall) -> AsyncIterator[FacialRecognitionActor]:
    """The dispatcher and the facial-recognition actor, as a ``microservices`` process runs them."""
    dispatcher = Dispatcher(pool, clock=wall, lease=LIMIT, follow_config=False)
    actor = FacialRecognitionActor(pool, now=wall)
    for job in JOBS:
        dispatcher.register(job, actor.address)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(LIMIT):
            await nursery.start(actor.run)
            await nursery.start(dispatcher.run)
        yield actor
        nursery.cancel_scope.cancel()


async def settled(sql: Sql) -> None:
    """Wait until no facial-recognition job is left (capped)."""
    with trio.fail_after(LIMIT):
        while True:
            left = await trio.to_thread.run_sync(
                sql, "SELECT count(*) FROM immich_trio.job WHERE queue = 'facialRecognition' AND status <> 'failed'"
            )
            if left == [(0,)]:
                return
            await trio.sleep(POLL)
