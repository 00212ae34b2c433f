"""The other way to serve smart search: an in-process usearch HNSW index over ``smart_search``,
its candidates filtered in SQL (``bench_smart_search.py --usearch`` runs it next to pgvector).

The index is rebuilt from the table (load, then ``Index.add`` on every core) and keyed by row
number; a query asks it for ``k`` nearest candidates, keeps those passing the filters in one SQL
statement (in the index's order), and asks again with ``k`` four times larger while the page is
not full and candidates remain. Needs PyPI ``usearch`` and numpy (not a dependency of the server).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import uuid
from typing import Any

import psycopg
from psycopg import sql

from immich_trio.sql.pool import open_pool
from immich_trio.sql.search import AssetSearch, search_parts

FIRST_K = 400


def candidates_query(f: AssetSearch, params: dict[str, Any]) -> sql.Composed:
    select, source, where = search_parts(f, params)
    # In the index's order (its distances: no embedding read back from the table).
    return sql.SQL(
        "SELECT {select} FROM unnest(%(candidates)s::uuid[]) WITH ORDINALITY c(id, rank)"
        " JOIN {source} ON a.id = c.id WHERE {where} ORDER BY c.rank LIMIT %(limit)s"
    ).format(select=select, source=source, where=where)


def build(url: str) -> tuple[Any, list[uuid.UUID]]:
    import numpy as np
    from usearch.index import Index

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), max(vector_dims(embedding)) FROM smart_search").fetchone()
        assert row is not None
        vectors = np.empty((row[0], row[1]), dtype=np.float32)
        ids: list[uuid.UUID] = []
        with conn.cursor("vectors", binary=True) as cur:  # server side: a batch at a time
            cur.execute('SELECT "assetId", embedding::real[] FROM smart_search')
            for n, (asset_id, values) in enumerate(cur):
                ids.append(asset_id)
                vectors[n] = values
    loaded = time.perf_counter() - started
    index = Index(ndim=vectors.shape[1], metric="cos", dtype="f16", connectivity=16, expansion_add=128,
                  expansion_search=128)
    started = time.perf_counter()
    index.add(np.arange(len(ids), dtype=np.uint64), vectors, threads=os.cpu_count() or 1)
    built = time.perf_counter() - started
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(f"\nusearch (f16, connectivity 16, expansion_add 128): {len(ids)} vectors loaded in {loaded:.1f} s,"
          f" index built in {built:.1f} s, index memory {index.memory_usage / 2**20:.0f} MiB"
          f" (process peak grew {rss:.0f} MiB)")
    return index, ids


async def measure(url: str, index: Any, ids: list[uuid.UUID], shapes: dict[str, AssetSearch],
                  queries: list[str], page: int) -> dict[str, list[list[Any]]]:
    import numpy as np

    results: dict[str, list[list[Any]]] = {}
    print(f"\nusearch candidates filtered in SQL:\n{'filter':56} {'p50 ms':>8} {'p99 ms':>8}  rows  mean k"
          "  index ms")
    async with open_pool(url) as pool, pool.connection() as conn:
        for name, f in shapes.items():
            samples: list[float] = []
            found: list[list[Any]] = []
            ks: list[int] = []
            in_index: list[float] = []
            for i, embedding in enumerate(queries):  # the first 10 warm up
                started = time.perf_counter()
                vector = np.asarray([float(x) for x in embedding[1:-1].split(",")], dtype=np.float32)
                k = FIRST_K
                searching = 0.0
                while True:
                    began = time.perf_counter()
                    matches = index.search(vector, min(k, len(ids)))
                    searching += time.perf_counter() - began
                    params: dict[str, Any] = {"embedding": embedding, "limit": page + 1,
                                              "candidates": [ids[key] for key in matches.keys]}
                    cur = await conn.execute(candidates_query(f, params), params)
                    rows = await cur.fetchall()
                    if len(rows) > page or k >= len(ids):
                        break
                    k *= 4
                if i >= 10:
                    samples.append((time.perf_counter() - started) * 1000)
                    found.append([r["id"] for r in rows[:page]])
                    ks.append(k)
                    in_index.append(searching * 1000)
            samples.sort()
            p50 = statistics.median(samples)
            p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            print(f"{name:56} {p50:8.1f} {p99:8.1f}  {statistics.mean(len(x) for x in found):4.0f}"
                  f"  {statistics.mean(ks):6.0f}  {statistics.median(in_index):8.2f}")
            results[name] = found
    return results
