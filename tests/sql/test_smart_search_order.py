"""Smart search's answer is the exact nearest-first order of the assets the filters allow,
whichever way the query runs: the HNSW walk of ``clip_index`` (forced here with
``enable_sort`` off, as the planner picks it on a large library), the exact scan of a small
album or person, or the exact query a short walk falls back to. Reference order from numpy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import numpy as np
import psycopg
import psycopg.sql
import pytest

from immich_trio.sql import smart_search as q
from immich_trio.sql.pool import Pool, open_pool
from immich_trio.sql.search import AssetSearch, members

DIM = 512
MINE, THEIRS = 240, 60


def _text(v: np.ndarray[Any, Any]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in v) + "]"


@pytest.fixture
async def library(db_url: str) -> AsyncIterator[tuple[Pool, dict[str, Any]]]:
    """Two users (the second shares with the first), assets with embeddings, every 7th a
    favourite, an album of 12, a person on 30 and a tag (with a child tag) on 41 of the first
    user's assets."""
    rng = np.random.default_rng(7)
    with psycopg.connect(db_url, autocommit=True) as conn:
        users = [
            str(conn.execute('INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                             (email, "", email[:1])).fetchone()[0])  # type: ignore[index]
            for email in ("me@example.com", "partner@example.com")
        ]
        conn.execute('INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, true)',
                     (users[1], users[0]))
        ids: list[str] = []
        for owner, count in ((users[0], MINE), (users[1], THEIRS)):
            rows = conn.execute(
                'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
                ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", "isFavorite", visibility)'
                " SELECT %s, 'IMAGE', '/x/' || g, now(), now(), now(), sha256((%s || g)::bytea), 'sha1',"
                " 'IMG.jpg', g %% 7 = 0, (CASE WHEN g %% 10 = 3 THEN 'archive' ELSE 'timeline' END)::asset_visibility_enum"
                " FROM generate_series(1, %s) g ORDER BY g RETURNING id",
                (owner, owner, count),
            ).fetchall()
            ids += [str(r[0]) for r in rows]
        vectors = rng.standard_normal((len(ids), DIM)).astype(np.float32)
        with conn.cursor() as cur:
            cur.executemany('INSERT INTO smart_search ("assetId", embedding) VALUES (%s, %s::vector)',
                            [(i, _text(v)) for i, v in zip(ids, vectors, strict=True)])
        album = str(conn.execute('INSERT INTO album ("albumName") VALUES (%s) RETURNING id',
                                 ("a",)).fetchone()[0])  # type: ignore[index]
        person = str(conn.execute('INSERT INTO person ("ownerId", name) VALUES (%s, %s) RETURNING id',
                                  (users[0], "p")).fetchone()[0])  # type: ignore[index]
        for i in ids[:MINE:20]:
            conn.execute('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, i))
        for i in ids[1:MINE:8]:
            conn.execute('INSERT INTO asset_face ("assetId", "personId") VALUES (%s, %s)', (i, person))
        # A tag and its child: an asset under both is still one asset under the tag.
        parent, child = (
            str(conn.execute('INSERT INTO tag ("userId", value, "parentId") VALUES (%s, %s, %s) RETURNING id',
                             (users[0], value, up)).fetchone()[0])  # type: ignore[index]
            for value, up in (("t", None), ("t/c", None))
        )
        conn.execute('UPDATE tag SET "parentId" = %s WHERE id = %s', (parent, child))
        conn.execute("INSERT INTO tag_closure VALUES (%s, %s), (%s, %s), (%s, %s)",
                     (parent, parent, child, child, parent, child))
        for i in ids[2:MINE:9]:
            conn.execute('INSERT INTO tag_asset ("assetId", "tagId") VALUES (%s, %s)', (i, parent))
        for i in ids[2:MINE:18] + ids[5:MINE:18]:
            conn.execute('INSERT INTO tag_asset ("assetId", "tagId") VALUES (%s, %s)', (i, child))
        conn.execute("ANALYZE")
        facts = {"users": users, "ids": ids, "vectors": vectors, "album": album, "person": person,
                 "favourite": {ids[n] for n in range(len(ids)) if (n if n < MINE else n - MINE) % 7 == 6},
                 "archived": {ids[n] for n in range(len(ids)) if (n if n < MINE else n - MINE) % 10 == 2},
                 "in_album": set(ids[:MINE:20]), "with_person": set(ids[1:MINE:8]), "tag": parent,
                 "tagged": set(ids[2:MINE:9]) | set(ids[5:MINE:18])}
    async with open_pool(db_url) as pool:
        yield pool, facts


def _exact(facts: dict[str, Any], query: np.ndarray[Any, Any], allowed: set[str]) -> list[str]:
    vectors = facts["vectors"]
    sims = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    order = np.argsort(-sims, kind="stable")
    return [facts["ids"][n] for n in order if facts["ids"][n] in allowed]


async def _pages(pool: Pool, f: AssetSearch, query: str, size: int, *, walk: bool) -> list[str]:
    found: list[str] = []
    async with pool.connection() as conn:
        if walk:
            await conn.execute("SET enable_sort = off")
        page = 1
        while True:
            rows, more = await q.search_smart(conn, f, query, page=page, size=size)
            found += [str(r["id"]) for r in rows]
            assert all("distance" not in r for r in rows)
            if not more:
                return found
            page += 1


async def test_every_path_gives_the_exact_order(library: tuple[Pool, dict[str, Any]]) -> None:
    pool, facts = library
    me, partner = (uuid.UUID(u) for u in facts["users"])
    ids = facts["ids"]
    visible = set(ids[:MINE]) | (set(ids[MINE:]) - facts["archived"])
    query_vector = np.random.default_rng(11).standard_normal(DIM).astype(np.float32)
    query = _text(query_vector)
    cases = {
        "owner and partner": (AssetSearch(caller_id=me, owner_ids=(me, partner)), visible),
        "favourites": (AssetSearch(caller_id=me, owner_ids=(me, partner), is_favorite=True),
                       visible & facts["favourite"]),
        "archived": (AssetSearch(caller_id=me, owner_ids=(me,), visibility="archive"),
                     set(ids[:MINE]) & facts["archived"]),
        "album": (AssetSearch(caller_id=me, owner_ids=(me, partner), album_ids=(uuid.UUID(facts["album"]),)),
                  facts["in_album"]),
        "person": (AssetSearch(caller_id=me, owner_ids=(me, partner), person_ids=(uuid.UUID(facts["person"]),)),
                   facts["with_person"]),
        "tag": (AssetSearch(caller_id=me, owner_ids=(me, partner), tag_ids=(uuid.UUID(facts["tag"]),)),
                facts["tagged"]),
        # Driven by the person's assets, nearest first, the other filters checked as they come.
        "person's favourites": (
            AssetSearch(caller_id=me, owner_ids=(me, partner), person_ids=(uuid.UUID(facts["person"]),),
                        is_favorite=True),
            facts["with_person"] & facts["favourite"]),
    }
    for name, (f, allowed) in cases.items():
        expected = _exact(facts, query_vector, allowed)
        assert 0 < len(expected) < len(ids)
        assert await _pages(pool, f, query, 100, walk=False) == expected, name
        walked = await _pages(pool, f, query, 25, walk=True)
        # The walk is approximate by nature; on 300 vectors with a candidate list as deep as
        # the page it finds (nearly) all of them, each allowed once, nearest first.
        assert set(walked) <= allowed and len(walked) == len(set(walked)), name
        assert len(set(walked) & set(expected)) >= 0.95 * len(expected), name
        first = walked[:25]
        assert first == [i for i in expected if i in set(first)], name


async def test_the_walk_uses_clip_index(library: tuple[Pool, dict[str, Any]]) -> None:
    pool, facts = library
    me = uuid.UUID(facts["users"][0])
    query, params = q.nearest_query(AssetSearch(caller_id=me, owner_ids=(me,)), _text(facts["vectors"][0]),
                                    page=1, size=10)
    async with pool.connection() as conn:
        await conn.execute("SET enable_sort = off")
        cur = await conn.execute(b"EXPLAIN " + query.as_bytes(conn), params)
        plan = "\n".join(str(next(iter(r.values()))) for r in await cur.fetchall())
    assert "clip_index" in plan


async def test_searches_are_planned_for_their_own_filters(library: tuple[Pool, dict[str, Any]]) -> None:
    """A statement run often enough on one connection is prepared, and PostgreSQL then plans it
    once for any parameters: for smart search that generic plan sorts every matching row instead
    of walking the index (10 ms → 230 ms at 100,000). Twenty searches leave no prepared one."""
    pool, facts = library
    me, partner = (uuid.UUID(u) for u in facts["users"])
    query = _text(facts["vectors"][3])
    shapes = [AssetSearch(caller_id=me, owner_ids=(me, partner)),
              AssetSearch(caller_id=me, owner_ids=(me, partner), person_ids=(uuid.UUID(facts["person"]),))]
    async with pool.connection() as conn:
        for _ in range(10):
            for f in shapes:
                await q.search_smart(conn, f, query, page=1, size=10)
        cur = await conn.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [str(r["statement"]) for r in await cur.fetchall()]
    assert not [s for s in prepared if "<=>" in s], prepared


async def test_favourites_are_answered_from_their_index(library: tuple[Pool, dict[str, Any]]) -> None:
    """The owners' favourites, listed by our index (migration 0008), drive the search when they
    are few; on a database without that index (an adopted Immich one) they are not even counted
    (that would read all of asset) and the walk answers. The same exact order either way."""
    pool, facts = library
    me, partner = (uuid.UUID(u) for u in facts["users"])
    visible = set(facts["ids"][:MINE]) | (set(facts["ids"][MINE:]) - facts["archived"])
    query_vector = np.random.default_rng(12).standard_normal(DIM).astype(np.float32)
    expected = _exact(facts, query_vector, visible & facts["favourite"])
    favourites = AssetSearch(caller_id=me, owner_ids=(me, partner), is_favorite=True)
    trash_too = AssetSearch(caller_id=me, owner_ids=(me, partner), is_favorite=True, with_deleted=True)
    async with pool.connection() as conn:
        assert await q.few_members(conn, favourites, 101) == "favorites"
        assert await q.few_members(conn, trash_too, 101) is None  # the index holds no trashed asset
        assert await q.few_members(conn, attrs.evolve(favourites, is_favorite=False), 101) is None
        # The index's predicate covers the listing (on 300 rows the planner would rather read them all).
        await conn.execute("SET enable_seqscan = off")
        query, params = q.members_query(favourites, "favorites", _text(query_vector), page=1, size=100)
        cur = await conn.execute(b"EXPLAIN " + query.as_bytes(conn), params)
        plan = "\n".join(str(next(iter(r.values()))) for r in await cur.fetchall())
        assert "immich_trio_asset_favorite_idx" in plan
        await conn.execute("RESET enable_seqscan")
    assert await _pages(pool, favourites, _text(query_vector), 10, walk=False) == expected
    async with pool.connection() as conn:
        await conn.execute("DROP INDEX immich_trio_asset_favorite_idx")
        assert await q.few_members(conn, favourites, 101) is None
        params = {"at_least": 0, "walk_per_exact": 0, "depth": 101}
        cur = await conn.execute(
            b"EXPLAIN (ANALYZE, FORMAT JSON) " + psycopg.sql.SQL(q.FEW_MEMBERS).format(
                listable=psycopg.sql.SQL(q.FAVORITES_LISTABLE),
                members=members("favorites", favourites, params)).as_bytes(conn), params)
        row = await cur.fetchone()
        assert row is not None
        reads = _reads_of(next(iter(row.values()))[0]["Plan"], "asset")
        assert reads == [0], reads  # planned, never run
    assert await _pages(pool, favourites, _text(query_vector), 10, walk=False) == expected


def _reads_of(node: dict[str, Any], table: str) -> list[int]:
    """How many times each scan of ``table`` in an EXPLAIN (ANALYZE, FORMAT JSON) plan ran."""
    found = [int(node["Actual Loops"])] if node.get("Relation Name") == table else []
    for child in node.get("Plans", []):
        found += _reads_of(child, table)
    return found
