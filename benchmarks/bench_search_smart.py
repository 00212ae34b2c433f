"""Smart search shapes of ``bench_search.py --smart``: an embedding per asset, Immich's
``clip_index`` built once, ``POST /search/smart`` by ``queryAssetId`` (no text encoding)."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg

SMART_SHAPES: tuple[tuple[str, str | None, str, str, Any], ...] = (
    ("POST /search/smart queryAssetId", "smart", "POST", "/search/smart", {"queryAssetId": "{asset}"}),
    ("POST /search/smart +timeline+image+takenAfter", "smart", "POST", "/search/smart",
     {"queryAssetId": "{asset}", "visibility": "timeline", "type": "IMAGE",
      "takenAfter": "2020-01-01T00:00:00.000Z"}),
    ("POST /search/smart +isFavorite (5 %)", "smart", "POST", "/search/smart",
     {"queryAssetId": "{asset}", "isFavorite": True}),
)
SMART_FILL = """
INSERT INTO smart_search ("assetId", embedding)
SELECT a.id, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, 512) WHERE a.id IS NOT NULL)::vector
FROM asset a
"""
CLIP_INDEX = (
    'CREATE INDEX "clip_index" ON "smart_search" USING hnsw ((embedding) vector_cosine_ops)'
    " WITH (ef_construction = 300, m = 16)"
)


def fill_smart(url: str) -> list[str]:
    """An embedding per asset, then the index built once (faster than growing it row by row),
    smart search switched on; return query asset ids (the user's, visible)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS clip_index")
        started = time.perf_counter()
        conn.execute(SMART_FILL)
        conn.execute("VACUUM ANALYZE smart_search")
        stored = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        conn.execute(CLIP_INDEX)
        built = time.perf_counter() - started
        conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (json.dumps({"machineLearning": {"enabled": True, "clip": {"enabled": True}}}),),
        )
        rows = conn.execute(
            """SELECT a.id::text FROM asset a JOIN "user" u ON u.id = a."ownerId" AND u.email LIKE 'bench%%'"""
            " WHERE a.visibility = 'timeline' AND a.\"deletedAt\" IS NULL ORDER BY a.id LIMIT 200"
        ).fetchall()
        print(f"embeddings stored in {stored:.1f} s, clip_index (HNSW m 16, ef_construction 300) built in {built:.1f} s")
    return [r[0] for r in rows]
