"""Face clustering through the real jobs: ``FacialRecognitionQueueAll`` then one
``FacialRecognition`` per face, claimed by the dispatcher and run by the facial-recognition
actor, on a fresh database.

    python benchmarks/bench_face_clustering.py [--db-url URL] [--faces 10000] [--clusters 200]
                                               [--noise 400] [--no-index] [--async-commit]

Fills one owner's faces (one asset each) with 512-d unit embeddings: ``--clusters`` people
(random directions, members spread ~0.15 cosine distance around them) plus ``--noise`` lone
faces; runs the jobs with Immich's defaults (minFaces 3, maxDistance 0.5) and prints the time,
faces per second, this process's peak RSS, how well the people match the true clusters, and
whether the nearest-neighbour query uses ``face_index`` (HNSW) by its plan. ``--no-index``
drops ``face_index`` first (the exact scan).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import trio
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timeline import postgres_server, with_database

from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.face_recognition import JOBS, FacialRecognitionActor
from immich_trio.jobs.names import JobName
from immich_trio.sql import face_recognition as q
from immich_trio.sql.jobs import enqueue_job
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import Pool, open_pool

DIM = 512
SPREAD = 0.6
TAKEN = datetime(2024, 5, 1, 12, tzinfo=UTC)
FACE_INDEX = (
    'CREATE INDEX "face_index" ON "face_search" USING hnsw ((embedding) vector_cosine_ops)'
    " WITH (ef_construction = 300, m = 16)"
)
CONFIG = {
    "machineLearning": {
        "enabled": True,
        "clip": {"enabled": False},
        "facialRecognition": {"enabled": True, "minFaces": 3, "maxDistance": 0.5},
    }
}


def embeddings(faces: int, clusters: int, noise: int, seed: int = 7) -> tuple[np.ndarray[Any, Any], list[int]]:
    """Unit vectors and each one's true cluster (-1 for noise), shuffled."""
    rng = np.random.default_rng(seed)
    members = faces - noise
    labels = [i % clusters for i in range(members)] + [-1] * noise
    centres = rng.normal(size=(clusters, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((faces, DIM), dtype=np.float32)
    for row, label in enumerate(labels):
        if label < 0:
            vectors[row] = rng.normal(size=DIM)
        else:
            vectors[row] = centres[label] + rng.normal(scale=SPREAD / DIM**0.5, size=DIM)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = rng.permutation(faces)
    return vectors[order], [labels[i] for i in order]


def fill(url: str, vectors: np.ndarray[Any, Any], labels: list[int], *, index: bool) -> dict[str, int]:
    """One owner, one asset and one face per vector; ``{faceId: true cluster}``. The embeddings
    are copied in without ``face_index``, which is then built in one go (unless not ``index``)."""
    truth: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS face_index")
        row = conn.execute(
            'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
            ("bench@example.com", "", "bench"),
        ).fetchone()
        assert row is not None
        owner = row[0]
        conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (Jsonb(CONFIG),),
        )
        started = time.perf_counter()
        assets = [uuid.uuid4() for _ in labels]
        faces = [uuid.uuid4() for _ in labels]
        with conn.cursor() as cur:
            with cur.copy(
                'COPY asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
                ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime") FROM STDIN'
            ) as copy:
                for asset in assets:
                    copy.write_row((asset, owner, "IMAGE", f"/bench/{asset}.jpg", "a.jpg", asset.bytes + b"0000",
                                    "sha1", TAKEN, TAKEN, TAKEN))  # fmt: skip
            with cur.copy('COPY asset_face (id, "assetId") FROM STDIN') as copy:
                for face, asset in zip(faces, assets, strict=True):
                    copy.write_row((face, asset))
            with cur.copy('COPY face_search ("faceId", embedding) FROM STDIN') as copy:
                for face, vector in zip(faces, vectors, strict=True):
                    copy.write_row((face, "[" + ",".join(f"{v:.6f}" for v in vector) + "]"))
        print(f"stored {len(labels)} faces with embeddings in {time.perf_counter() - started:.1f} s")
        if index:
            started = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute(FACE_INDEX)
            print(f"built face_index (HNSW) in {time.perf_counter() - started:.1f} s")
        for table in ("asset", "asset_face", "face_search"):
            conn.execute(f"VACUUM ANALYZE {table}")
        truth = {str(face): label for face, label in zip(faces, labels, strict=True)}
    return truth


async def cluster(url: str) -> float:
    """Queue ``FacialRecognitionQueueAll`` and run every job; the seconds it took."""
    async with open_pool(url) as pool:
        dispatcher = Dispatcher(pool, lease=120.0, follow_config=False)
        actor = FacialRecognitionActor(pool, now=lambda: datetime.now(UTC))
        for job in JOBS:
            dispatcher.register(job, actor.address)
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            await nursery.start(dispatcher.run)
            started = time.perf_counter()
            async with pool.connection() as conn, conn.transaction():
                await enqueue_job(conn, JobName.FACIAL_RECOGNITION_QUEUE_ALL, {"force": False})
            while True:
                if not await _jobs_left(pool):
                    break
                await trio.sleep(0.2)
            elapsed = time.perf_counter() - started
            print(f"actor decisions: {actor.extra_status()}")
            nursery.cancel_scope.cancel()
    return elapsed


async def _jobs_left(pool: Pool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM immich_trio.job WHERE queue = 'facialRecognition' AND status <> 'failed'"
        )
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


def quality(url: str, truth: dict[str, int]) -> None:
    """How the people found compare with the true clusters."""
    with psycopg.connect(url) as conn:
        rows = conn.execute('SELECT id::text, "personId"::text FROM asset_face').fetchall()
    by_person: dict[str, Counter[int]] = {}
    for face, person in rows:
        if person is not None:
            by_person.setdefault(person, Counter())[truth[face]] += 1
    assigned = sum(sum(c.values()) for c in by_person.values())
    pure = sum(c.most_common(1)[0][1] for c in by_person.values())
    clusters = {label for label in truth.values() if label >= 0}
    people_per_cluster = Counter(c.most_common(1)[0][0] for c in by_person.values())
    split = sum(1 for n in people_per_cluster.values() if n > 1)
    noise_assigned = sum(c[-1] for c in by_person.values())
    print(
        f"people: {len(by_person)} for {len(clusters)} true clusters ({split} split); faces assigned "
        f"{assigned}/{len(truth)}, purity {pure / max(assigned, 1):.4f}; noise faces assigned {noise_assigned}"
    )


def explain(url: str) -> None:
    with psycopg.connect(url) as conn:
        owner, face = conn.execute(
            'SELECT a."ownerId", f.id FROM asset_face f JOIN asset a ON a.id = f."assetId" LIMIT 1'
        ).fetchone() or (None, None)
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + q.SEARCH_FACES,
            {"face": face, "owner": owner, "has_person": False, "min_birth": TAKEN, "limit": 3,
             "max_distance": 0.5},
        ).fetchall()  # fmt: skip
    text = "\n".join(line for (line,) in plan)
    used = "face_index" in text
    print(f"searchFaces uses face_index (HNSW): {'yes' if used else 'no'}")
    for line in text.splitlines():
        print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a PostgreSQL server with pgvector (role allowed to create databases)")
    parser.add_argument("--faces", type=int, default=10_000)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--noise", type=int, default=400)
    parser.add_argument("--no-index", action="store_true", help="drop face_index: the exact scan")
    parser.add_argument(
        "--async-commit", action="store_true",
        help="synchronous_commit off for the database: how much of the time is waiting on fsync",
    )
    args = parser.parse_args()
    vectors, labels = embeddings(args.faces, args.clusters, args.noise)
    with postgres_server(args.db_url) as server_url:
        name = "bench_faces_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        try:
            trio.run(migrate_url, url)
            if args.async_commit:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            truth = fill(url, vectors, labels, index=not args.no_index)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            elapsed = trio.run(cluster, url)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(
                f"clustered {args.faces} faces in {elapsed:.1f} s: {args.faces / elapsed:.0f} faces/s; "
                f"peak RSS {peak / 1024:.0f} MiB (after filling: {rss_before / 1024:.0f} MiB)"
            )
            quality(url, truth)
            explain(url)
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
