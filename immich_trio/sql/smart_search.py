"""CLIP embeddings in Immich's ``smart_search`` table (pgvector ``vector(512)``) and the
nearest-neighbour search over them.

The search runs in one query with the asset filters of ``sql/search.py``. The usual path walks
Immich's ``clip_index`` (HNSW, ``<=>`` cosine distance) nearest first and checks the filters on
each candidate as it comes; pgvector 0.8's iterative scan (``relaxed_order``) keeps walking
until the page is full, and the page is then put in exact distance order. A filter on an album,
a person, a tag or favourites that leaves few assets (``FEW_MEMBERS``: few against the library's
size) goes the other way: the distance of each of those assets, exactly, nearest first, the
other filters checked on the nearest until the page is full. The vectors are kept in
``smart_search``'s rows (migration ``0007_smart_search_inline.sql``), so each distance is one
row lookup, not two. When the walk comes back short (the filter matched fewer assets than asked
for, or pgvector stopped at ``hnsw.max_scan_tuples``) the exact query answers, so a page is
never missing an asset. The search statements are never prepared: PostgreSQL plans a prepared
statement once for any parameters after a few runs (its generic plan), and without the dates,
owners and people in hand that plan sorts every matching row instead of walking the index
(timeline, image and three years of 100,000: 10 ms became 230 ms from a connection's eleventh
search on); planning takes ~0.4 ms. Measured in ``benchmarks/bench_smart_search.py`` (HNSW
against an in-process usearch index and the exact scan; the numbers are in its docstring).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection, sql

from immich_trio.jobs.names import JobName
from immich_trio.sql.jobs.enqueue import enqueue_selected
from immich_trio.sql.search import AssetSearch, includes_trashed, members, search_parts

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
# For this transaction: a candidate list as deep as the page, and (pgvector 0.8+) iterative
# scans so that a filter rejecting most candidates still fills the page. The scan's memory
# (work_mem times hnsw.scan_mem_multiplier) holds the candidates it has seen; at the default
# (4 MB) a 512-d scan stops after ~2,000 of them, short of a page under a 5 % filter.
SEARCH_SETTINGS = """
SELECT set_config('hnsw.ef_search', %s, true),
       (SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)
               || set_config('hnsw.scan_mem_multiplier', '8', true)
        FROM pg_extension
        WHERE extname = 'vector' AND string_to_array(extversion, '.')::int[] >= '{0,8,0}')
"""
# When a membership filter (album, person, tag) is answered exactly instead of by the walk. The
# exact answer costs one row lookup and one distance per member (~4 us); the walk ~20 us per
# candidate, and under a filter it visits about depth x library / members candidates to fill a
# page. Exact is cheaper below members = sqrt(WALK_PER_EXACT x depth x library): ~7,300 of
# 105,000 for a first page of 100, ~22,000 of 1,000,000 (measured in bench_smart_search.py).
# The library's size is the planner's row count of smart_search; counted in the same statement
# as the members, up to that cap.
WALK_PER_EXACT = 5
EXACT_AT_LEAST = 1000
# Favourites are listed by our own index (migration 0008); without it (an adopted Immich
# database) listing them would read all of asset, so they are not counted at all (PostgreSQL
# runs the CASE's subquery only when its branch is taken).
FEW_MEMBERS = """
WITH lib AS (
    SELECT greatest(%(at_least)s, sqrt(%(walk_per_exact)s * %(depth)s * greatest(reltuples, 0)))::bigint AS cap
    FROM pg_class WHERE oid = 'smart_search'::regclass)
SELECT CASE WHEN {listable}
            THEN (SELECT count(*) FROM ({members} LIMIT (SELECT cap + 1 FROM lib)) m) <= (SELECT cap FROM lib)
            ELSE false END AS few
"""
FAVORITES_LISTABLE = "to_regclass('immich_trio_asset_favorite_idx') IS NOT NULL"


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
    return await enqueue_selected(conn, _INSERT_MISSING, JobName.SMART_SEARCH, {"force": force})


def ef_search(page: int, size: int) -> int:
    """The HNSW candidate list for a page: its depth, within pgvector's bounds."""
    return min(max(page * size + 1, 40), 1000)


def nearest_query(f: AssetSearch, embedding: str, *, page: int, size: int) -> tuple[sql.Composed, dict[str, Any]]:
    """The index walk: the first ``page * size + 1`` matching assets as the index yields them,
    then in exact distance order (``relaxed_order`` may yield them slightly out of order)."""
    params: dict[str, Any] = {
        "embedding": embedding, "depth": page * size + 1, "limit": size + 1, "offset": (page - 1) * size,
    }
    select, source, where = search_parts(f, params)
    query = sql.SQL(
        "WITH nearest AS MATERIALIZED (SELECT {select}, ss.embedding <=> %(embedding)s::vector AS distance"
        " FROM {source} JOIN smart_search ss ON ss.\"assetId\" = a.id WHERE {where}"
        " ORDER BY ss.embedding <=> %(embedding)s::vector LIMIT %(depth)s)"
        " SELECT * FROM nearest ORDER BY distance LIMIT %(limit)s OFFSET %(offset)s"
    ).format(select=select, source=source, where=where)
    return query, params


def exact_query(f: AssetSearch, embedding: str, *, page: int, size: int) -> tuple[sql.Composed, dict[str, Any]]:
    """Every matching asset's distance, sorted (``+ 0``: an order the index cannot serve)."""
    params: dict[str, Any] = {"embedding": embedding, "limit": size + 1, "offset": (page - 1) * size}
    select, source, where = search_parts(f, params)
    query = sql.SQL(
        "SELECT {select} FROM {source} JOIN smart_search ss ON ss.\"assetId\" = a.id"
        " WHERE {where} ORDER BY (ss.embedding <=> %(embedding)s::vector) + 0"
        " LIMIT %(limit)s OFFSET %(offset)s"
    ).format(select=select, source=source, where=where)
    return query, params


def members_query(
    f: AssetSearch, kind: str, embedding: str, *, page: int, size: int
) -> tuple[sql.Composed, dict[str, Any]]:
    """The exact answer driven by a membership (``kind``: albums, people, tags, favorites): the
    distance of each member, sorted, and the other filters checked on the nearest first, so that
    only about a page of the members is looked up in ``asset`` (a person's 2,000 assets: 20 -> 6
    ms). The members' rows are read by one scan of ``smart_search_pkey`` over their sorted ids
    (``= ANY``), a quarter of the buffers of one lookup each (5 % favourites: 48 -> 18 ms).
    ``+ 0``: an order the index cannot serve (its walk is approximate)."""
    params: dict[str, Any] = {"embedding": embedding, "limit": size + 1, "offset": (page - 1) * size}
    driving = members(kind, f, params)
    if kind == "albums":
        rest = attrs.evolve(f, album_ids=())
    elif kind == "people":
        rest = attrs.evolve(f, person_ids=())
    elif kind == "tags":
        rest = attrs.evolve(f, tag_ids=())
    else:
        rest = attrs.evolve(f, is_favorite=None)
    select, source, where = search_parts(rest, params)
    query = sql.SQL(
        'SELECT {select} FROM (SELECT ss."assetId", (ss.embedding <=> %(embedding)s::vector) + 0 AS distance'
        ' FROM smart_search ss WHERE ss."assetId" = ANY(ARRAY({driving})) ORDER BY distance) n, {source}'
        ' WHERE a.id = n."assetId" AND {where} ORDER BY n.distance LIMIT %(limit)s OFFSET %(offset)s'
    ).format(select=select, driving=driving, source=source, where=where)
    return query, params


async def few_members(conn: Conn, f: AssetSearch, depth: int) -> str | None:
    """The album, person, tag or favourites filter of ``f`` with few enough members to answer
    exactly (``FEW_MEMBERS``), if any."""
    favourites = f.is_favorite is True and bool(f.owner_ids) and not includes_trashed(f)
    for kind, wanted in (("albums", bool(f.album_ids)), ("people", bool(f.person_ids)),
                         ("tags", bool(f.tag_ids)), ("favorites", favourites)):
        if wanted:
            params: dict[str, Any] = {"at_least": EXACT_AT_LEAST, "walk_per_exact": WALK_PER_EXACT, "depth": depth}
            listable = sql.SQL(FAVORITES_LISTABLE if kind == "favorites" else "true")
            query = sql.SQL(FEW_MEMBERS).format(listable=listable, members=members(kind, f, params))
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
            if row is not None and row["few"]:
                return kind
    return None


async def search_exact(
    conn: Conn, f: AssetSearch, embedding: str, *, page: int, size: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page by exact distance (no index)."""
    query, params = exact_query(f, embedding, page=page, size=size)
    cur = await conn.execute(query, params, prepare=False)
    rows = await cur.fetchall()
    return rows[:size], len(rows) > size


async def search_smart(
    conn: Conn, f: AssetSearch, embedding: str, *, page: int, size: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the assets matching ``f``, nearest to ``embedding`` first, and whether
    more follow."""
    kind = await few_members(conn, f, page * size + 1)
    if kind is not None:
        query, params = members_query(f, kind, embedding, page=page, size=size)
        cur = await conn.execute(query, params, prepare=False)
        rows = await cur.fetchall()
        return rows[:size], len(rows) > size
    query, params = nearest_query(f, embedding, page=page, size=size)
    async with conn.transaction():
        await conn.execute(SEARCH_SETTINGS, (str(ef_search(page, size)),))
        cur = await conn.execute(query, params, prepare=False)
        rows = await cur.fetchall()
    if len(rows) <= size:  # the walk ended short of the page: let the exact query say
        return await search_exact(conn, f, embedding, page=page, size=size)
    for row in rows:
        row.pop("distance", None)
    return rows[:size], len(rows) > size
