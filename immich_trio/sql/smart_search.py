"""CLIP embeddings in Immich's ``smart_search`` table (pgvector ``vector(512)``) and the
nearest-neighbour search over them.

The search runs in one query with the asset filters of ``sql/search.py``: pgvector's cosine
distance (``<=>``, what Immich's ``clip_index`` HNSW index serves) orders the matching assets.
With filters the planner may choose the filtered scan over the index; both give the exact
order for what they return. ``hnsw.ef_search`` is raised for the query (from the page depth) and pgvector's iterative scan
is on, so that a filtered page deep in the results is still filled from the index.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql.jobs.model import notify
from immich_trio.sql.search import AssetSearch, search_parts

Conn = AsyncConnection[Any]

FOR_SMART_SEARCH = """
SELECT a.id, a.visibility,
       (SELECT f.path FROM asset_file f
        WHERE f."assetId" = a.id AND f.type = 'preview' AND NOT f."isEdited" LIMIT 1) AS "previewPath"
FROM asset a WHERE a.id = %s
"""
UPSERT = """
INSERT INTO smart_search ("assetId", embedding) VALUES (%(id)s, %(embedding)s::vector)
ON CONFLICT ("assetId") DO UPDATE SET embedding = EXCLUDED.embedding
"""
EMBEDDING_OF = 'SELECT embedding::text AS embedding FROM smart_search WHERE "assetId" = %s'
# For this transaction: a wider HNSW candidate list, and (pgvector 0.8+) iterative scans so a
# filter that rejects most candidates still fills the page, in exact distance order.
SEARCH_SETTINGS = """
SELECT set_config('hnsw.ef_search', %s, true),
       (SELECT set_config('hnsw.iterative_scan', 'strict_order', true) FROM pg_extension
        WHERE extname = 'vector' AND string_to_array(extversion, '.')::int[] >= '{0,8,0}')
"""
DIMENSIONS = """
SELECT atttypmod AS dims FROM pg_attribute
WHERE attrelid = 'smart_search'::regclass AND attname = 'embedding'
"""
HAS_TABLE = "SELECT to_regclass('smart_search') IS NOT NULL AS present"
_INSERT_MISSING = """
INSERT INTO immich_trio.job (queue, name, data, "assetId")
SELECT %(queue)s, %(name)s, jsonb_build_object('id', a.id::text), a.id
FROM asset a
WHERE a."deletedAt" IS NULL AND a.visibility <> 'hidden'
  AND (%(force)s OR NOT EXISTS (SELECT 1 FROM smart_search s WHERE s."assetId" = a.id))
ORDER BY a."createdAt", a.id
"""


async def asset_for_smart_search(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    cur = await conn.execute(FOR_SMART_SEARCH, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def upsert_embedding(conn: Conn, asset_id: UUID | str, embedding: str) -> None:
    await conn.execute(UPSERT, {"id": asset_id, "embedding": embedding})


async def embedding_of(conn: Conn, asset_id: UUID | str) -> str | None:
    cur = await conn.execute(EMBEDDING_OF, (asset_id,))
    row = await cur.fetchone()
    return str(row["embedding"]) if row is not None else None


async def dimensions(conn: Conn) -> int:
    """The size of ``smart_search.embedding`` (512 for ViT-B-32; Immich resizes it per model)."""
    cur = await conn.execute(DIMENSIONS)
    row = await cur.fetchone()
    return int(row["dims"]) if row is not None else 0


async def has_table(conn: Conn) -> bool:
    cur = await conn.execute(HAS_TABLE)
    row = await cur.fetchone()
    return bool(row and row["present"])


async def enqueue_missing(conn: Conn, *, force: bool) -> int:
    """``SmartSearchQueueAll``: one ``SmartSearch`` per visible asset without an embedding (all
    of them with ``force``, whose embeddings are cleared first as Immich resets the table)."""
    if force:
        await conn.execute("DELETE FROM smart_search")
    name = JobName.SMART_SEARCH
    cur = await conn.execute(
        _INSERT_MISSING, {"queue": QUEUE_OF[name].value, "name": name.value, "force": force}
    )
    count = cur.rowcount
    if count:
        await notify(conn, QUEUE_OF[name].value)
    return count


def smart_query(f: AssetSearch, params: dict[str, Any]) -> sql.Composed:
    """The search: ``params`` holds ``embedding``, ``limit`` and ``offset``; filters add theirs."""
    select, source, where = search_parts(f, params)
    return sql.SQL(
        "SELECT {select} FROM {source} JOIN smart_search ss ON ss.\"assetId\" = a.id"
        " WHERE {where} ORDER BY ss.embedding <=> %(embedding)s::vector"
        " LIMIT %(limit)s OFFSET %(offset)s"
    ).format(select=select, source=source, where=where)


async def search_smart(
    conn: Conn, f: AssetSearch, embedding: str, *, page: int, size: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the assets matching ``f``, nearest to ``embedding`` first, and whether
    more follow."""
    params: dict[str, Any] = {"embedding": embedding, "limit": size + 1, "offset": (page - 1) * size}
    query = smart_query(f, params)
    async with conn.transaction():
        await conn.execute(SEARCH_SETTINGS, (str(min(max(page * size + 1, 40), 1000)),))
        cur = await conn.execute(query, params)
        rows = await cur.fetchall()
    return rows[:size], len(rows) > size
