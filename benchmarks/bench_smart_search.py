"""Smart search latency at the SQL layer (text encoding excluded): nearest neighbours by cosine
distance over stored 512-d CLIP embeddings, in the same query as the metadata filters.

    python benchmarks/bench_smart_search.py [--db-url URL] [--assets 100000] [--rounds 100]
                                            [--no-index]

Fills a fresh database with ``--assets`` assets of one user (and 5,000 of another), their exif
rows and one random embedding each in ``smart_search``; measures ``sql.smart_search.search_smart``
(page of 100) first with no vector index (exact scan), then after building Immich's
``clip_index`` (HNSW, vector_cosine_ops, m 16, ef_construction 300) unless ``--no-index``.
Prints p50/p95 per filter shape and the recall of the indexed search against the exact one.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timeline import fill, percentiles, postgres_server, with_database

from immich_trio.sql import smart_search as q
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import open_pool
from immich_trio.sql.search import AssetSearch

DIM = 512
PAGE = 100
FILL_EMBEDDINGS = f"""
INSERT INTO smart_search ("assetId", embedding)
SELECT a.id, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, {DIM}) WHERE a.id IS NOT NULL)::vector
FROM asset a
"""
INDEX = (
    'CREATE INDEX "clip_index" ON "smart_search" USING hnsw ((embedding) vector_cosine_ops)'
    " WITH (ef_construction = 300, m = 16)"
)


def fill_embeddings(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS clip_index")
        started = time.perf_counter()
        conn.execute(FILL_EMBEDDINGS)
        conn.execute("VACUUM ANALYZE smart_search")
        print(f"stored embeddings in {time.perf_counter() - started:.1f} s")


def build_index(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        conn.execute(INDEX)
        print(f"built clip_index (HNSW) in {time.perf_counter() - started:.1f} s")


def vector(rng: random.Random) -> str:
    return "[" + ",".join(f"{rng.random() - 0.5:.5f}" for _ in range(DIM)) + "]"


def shapes(user: uuid.UUID) -> dict[str, AssetSearch]:
    return {
        "owner (timeline, not trashed)": AssetSearch(caller_id=user, owner_ids=(user,)),
        "owner + 3 filters (image, taken after 2020, country)": AssetSearch(
            caller_id=user, owner_ids=(user,), type="IMAGE",
            dates={"taken_after": datetime(2020, 1, 1, tzinfo=UTC)}, exif={"country": "Germany"},
        ),
        "owner + favourites (5 %)": AssetSearch(caller_id=user, owner_ids=(user,), is_favorite=True),
    }


async def measure(url: str, user_id: str, rounds: int, title: str) -> dict[str, list[list[Any]]]:
    rng = random.Random(5)
    queries = [vector(rng) for _ in range(rounds)]
    results: dict[str, list[list[Any]]] = {}
    print(f"\n{title}\n{'filter':56} {'p50 ms':>8} {'p95 ms':>8}  rows")
    async with open_pool(url) as pool:
        for name, f in shapes(uuid.UUID(user_id)).items():
            samples: list[float] = []
            ids: list[list[Any]] = []
            async with pool.connection() as conn:
                for i, embedding in enumerate(queries[:10] + queries):
                    started = time.perf_counter()
                    rows, _ = await q.search_smart(conn, f, embedding, page=1, size=PAGE)
                    if i >= 10:
                        samples.append((time.perf_counter() - started) * 1000)
                        ids.append([r["id"] for r in rows])
            p50, p95 = percentiles(samples)
            print(f"{name:56} {p50:8.1f} {p95:8.1f}  {statistics.mean(len(x) for x in ids):.0f}")
            results[name] = ids
    return results


def recall(exact: dict[str, list[list[Any]]], indexed: dict[str, list[list[Any]]]) -> None:
    print("\nrecall@100 of the indexed search against the exact scan:")
    for name, truth in exact.items():
        hits = [len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(truth, indexed[name], strict=True)]
        print(f"  {name:54} {statistics.mean(hits):.3f}")


async def explain(url: str, user_id: str) -> None:
    rng = random.Random(9)
    async with open_pool(url) as pool, pool.connection() as conn:
        for name, f in shapes(uuid.UUID(user_id)).items():
            params: dict[str, Any] = {"embedding": vector(rng), "limit": PAGE + 1, "offset": 0}
            query = q.smart_query(f, params)
            async with conn.transaction():
                await conn.execute(q.SEARCH_SETTINGS, (str(PAGE + 1),))
                cur = await conn.execute(psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + query, params)
                print(f"\nEXPLAIN ANALYZE {name}:")
                for row in await cur.fetchall():
                    print("   ", re.sub(r"'\[[^']*\]'", "'[...]'", str(next(iter(row.values())))))


def run(fn: Callable[..., Any], *args: Any) -> Any:
    return trio.run(fn, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a PostgreSQL server with pgvector (role allowed to create databases)")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--no-index", action="store_true", help="measure the exact scan only")
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = "bench_smart_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        try:
            run(migrate_url, url)
            user_id, _token = fill(url, args.assets, 0)
            fill_embeddings(url)
            exact = run(measure, url, user_id, args.rounds, "no vector index (exact scan):")
            if not args.no_index:
                build_index(url)
                indexed = run(measure, url, user_id, args.rounds, "with clip_index (HNSW):")
                recall(exact, indexed)
                run(explain, url, user_id)
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
