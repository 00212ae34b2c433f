"""Reading albums as ``AlbumResponseDto`` needs them: members, shared-link flag, asset figures.

An album row carries ``albumUsers`` (JSON: owner, then editors, then viewers; within a role
the caller first, then by name), ``hasSharedLink``, and the figures of its visible assets
(not trashed, visibility timeline or archive): ``assetCount``, ``startDate``/``endDate``
(local dates), ``lastModifiedAssetTimestamp`` and, for the responses Immich builds from the
album's asset list, ``firstLocal``/``lastLocal`` (the local date-times of the newest and the
oldest asset by ``fileCreatedAt``, as PostgreSQL writes them into JSON) and
``contributorCounts`` (JSON: live assets per owner, most first). Lists carry the figures only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.snapshot_cache import with_snapshot

Conn = AsyncConnection[Any]

VISIBLE = """x."deletedAt" IS NULL AND x.visibility IN ('timeline', 'archive')"""
ISO_Z = """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"""
MIDNIGHT_Z = """'YYYY-MM-DD"T00:00:00.000Z"'"""

# The figures of the albums that ``scope`` (a condition on ``aa."albumId"``) selects, grouped
# in one pass over their assets (a hash join when there are many, not one probe per album).
# Dates are min/max of the timestamps, cast once per album. ``full`` adds what one album's
# page needs: the local date-times of its newest and oldest asset by fileCreatedAt (max/min
# of [fileCreatedAt, localDateTime] pairs, no sort) and ``contributorCounts`` (live assets
# per owner, whatever their visibility), grouped per owner first so the join runs once.
def _figures(scope: str, *, full: bool = False, contributors: bool = False) -> str:
    if contributors:
        # GET /albums/{id}: the list's figures and contributorCounts in one grouped pass, without
        # the local date-times of the newest/oldest asset (two arrays built per asset: a fifth
        # of the query's time for an album of 20,000).
        return f"""
LEFT JOIN (
    SELECT o."albumId",
           sum(o.n)::int AS "assetCount",
           (min(o.first) AT TIME ZONE 'UTC')::date AS "startDate",
           (max(o.last) AT TIME ZONE 'UTC')::date AS "endDate",
           max(o.modified) AS "lastModifiedAssetTimestamp",
           NULL::timestamptz AS "firstLocal", NULL::timestamptz AS "lastLocal",
           json_agg(json_build_object('userId', o."ownerId", 'assetCount', o.live)
                    ORDER BY o.live DESC, o."ownerId") AS "contributorCounts"
    FROM (
        SELECT aa."albumId", x."ownerId", count(*) AS live,
               count(*) FILTER (WHERE {VISIBLE}) AS n,
               min(x."localDateTime") FILTER (WHERE {VISIBLE}) AS first,
               max(x."localDateTime") FILTER (WHERE {VISIBLE}) AS last,
               max(x."updatedAt") FILTER (WHERE {VISIBLE}) AS modified
        FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE {scope}
        GROUP BY aa."albumId", x."ownerId"
    ) o
    GROUP BY o."albumId"
) m ON m."albumId" = a.id"""
    if not full:
        return f"""
LEFT JOIN (
    SELECT aa."albumId",
           count(*)::int AS "assetCount",
           (min(x."localDateTime") AT TIME ZONE 'UTC')::date AS "startDate",
           (max(x."localDateTime") AT TIME ZONE 'UTC')::date AS "endDate",
           max(x."updatedAt") AS "lastModifiedAssetTimestamp",
           NULL::timestamptz AS "firstLocal", NULL::timestamptz AS "lastLocal",
           NULL::json AS "contributorCounts"
    FROM album_asset aa JOIN asset x ON x.id = aa."assetId"
    WHERE {scope} AND {VISIBLE}
    GROUP BY aa."albumId"
) m ON m."albumId" = a.id"""
    return f"""
LEFT JOIN (
    SELECT o."albumId",
           sum(o.n)::int AS "assetCount",
           (min(o.first) AT TIME ZONE 'UTC')::date AS "startDate",
           (max(o.last) AT TIME ZONE 'UTC')::date AS "endDate",
           max(o.modified) AS "lastModifiedAssetTimestamp",
           (max(o.newest))[2] AS "firstLocal",
           (min(o.oldest))[2] AS "lastLocal",
           json_agg(json_build_object('userId', o."ownerId", 'assetCount', o.live)
                    ORDER BY o.live DESC, o."ownerId") AS "contributorCounts"
    FROM (
        SELECT aa."albumId", x."ownerId", count(*) AS live,
               count(*) FILTER (WHERE {VISIBLE}) AS n,
               min(x."localDateTime") FILTER (WHERE {VISIBLE}) AS first,
               max(x."localDateTime") FILTER (WHERE {VISIBLE}) AS last,
               max(x."updatedAt") FILTER (WHERE {VISIBLE}) AS modified,
               max(ARRAY[x."fileCreatedAt", x."localDateTime"]) FILTER (WHERE {VISIBLE}) AS newest,
               min(ARRAY[x."fileCreatedAt", x."localDateTime"]) FILTER (WHERE {VISIBLE}) AS oldest
        FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE {scope}
        GROUP BY aa."albumId", x."ownerId"
    ) o
    GROUP BY o."albumId"
) m ON m."albumId" = a.id"""


ALBUM_COLUMNS = """
SELECT a.id, a."albumName", a.description, a."albumThumbnailAssetId", a."createdAt",
       a."updatedAt", a."isActivityEnabled", a."order",
       (SELECT json_agg(json_build_object(
                  'role', au.role,
                  'user', json_build_object('id', u.id, 'email', u.email, 'name', u.name,
                                            'profileImagePath', u."profileImagePath",
                                            'avatarColor', u."avatarColor",
                                            'profileChangedAt', u."profileChangedAt"))
               ORDER BY au.role, au."userId" = %(me)s DESC, u.name)
        FROM album_user au JOIN "user" u ON u.id = au."userId"
        WHERE au."albumId" = a.id) AS "albumUsers",
       EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id) AS "hasSharedLink",
       coalesce(m."assetCount", 0) AS "assetCount", m."startDate", m."endDate",
       m."lastModifiedAssetTimestamp",
       to_json(m."firstLocal") #>> '{}' AS "firstLocal",
       to_json(m."lastLocal") #>> '{}' AS "lastLocal",
       coalesce(m."contributorCounts", '[]') AS "contributorCounts"
FROM album a
"""

BY_IDS = ALBUM_COLUMNS + _figures('aa."albumId" = ANY(%(ids)s::uuid[])', full=True) + """
WHERE a.id = ANY(%(ids)s::uuid[]) AND a."deletedAt" IS NULL
ORDER BY a."createdAt" DESC
"""

INFO = ALBUM_COLUMNS + _figures('aa."albumId" = %(id)s', contributors=True) + """
WHERE a.id = %(id)s AND a."deletedAt" IS NULL
"""

# Albums the caller is a member of; the filters of GET /albums (Immich's getAll). GET /albums
# answers ``MINE_JSON``; these rows through ``album_dto`` are the shape it is held to.
MINE = ALBUM_COLUMNS + """
JOIN album_user me ON me."albumId" = a.id AND me."userId" = %(me)s""" + _figures(
    """aa."albumId" IN (SELECT "albumId" FROM album_user WHERE "userId" = %(me)s)"""
) + """
WHERE a."deletedAt" IS NULL
  AND (%(owned)s::boolean IS NULL OR (me.role = 'owner') = %(owned)s)
  AND (%(shared)s::boolean IS NULL OR (
        EXISTS (SELECT FROM album_user o WHERE o."albumId" = a.id AND o.role <> 'owner')
        OR EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id)) = %(shared)s)
  AND (%(id)s::uuid IS NULL OR a.id = %(id)s)
  AND (%(name)s::text IS NULL OR a."albumName" = %(name)s)
ORDER BY a."createdAt" DESC
"""

# GET /albums as the JSON text of Immich's answer, built in PostgreSQL: 1,000 albums never
# become Python objects. The shape, key order and date forms are ``album_dto``'s for ``MINE``
# rows (tests/http/test_album_list_json.py compares the two byte for byte): ``createdAt`` and
# friends as ``YYYY-MM-DDTHH:mm:ss.sssZ`` (``to_char`` truncates to milliseconds, as
# ``iso_z`` does), start/end dates at midnight UTC, members' ``profileChangedAt`` as ``to_json``
# writes it, absent figures left out. Compact JSON is concatenated by hand (``json_build_object``
# writes `` : `` and ``, ``); every string goes through ``to_json`` for its escapes, which are
# JSON.stringify's. Each user's object is written once (``people``), each album's figures come
# from one grouped pass over its assets, and the members and link flags from one grouped pass
# each, not a subquery per album. ``palette`` is Immich's avatar colours, in order: a user
# without a stored colour gets the one its email's code points sum to.
MINE_JSON = f"""
WITH mine AS (
    SELECT a.id, a."albumName", a.description, a."albumThumbnailAssetId", a."createdAt",
           a."updatedAt", a."isActivityEnabled", a."order", me.role
    FROM album a JOIN album_user me ON me."albumId" = a.id AND me."userId" = %(me)s
    WHERE a."deletedAt" IS NULL
      AND (%(owned)s::boolean IS NULL OR (me.role = 'owner') = %(owned)s)
      AND (%(id)s::uuid IS NULL OR a.id = %(id)s)
      AND (%(name)s::text IS NULL OR a."albumName" = %(name)s)
      -- isShared before the figures, so that they are computed for the chosen albums only
      AND (%(shared)s::boolean IS NULL OR (
            a.id IN (SELECT o."albumId" FROM album_user o WHERE o.role <> 'owner')
            OR a.id IN (SELECT s."albumId" FROM shared_link s WHERE s."albumId" IS NOT NULL)) = %(shared)s)
), figures AS (
    SELECT aa."albumId",
           count(*)::int AS n,
           (min(x."localDateTime") AT TIME ZONE 'UTC')::date AS first,
           (max(x."localDateTime") AT TIME ZONE 'UTC')::date AS last,
           max(x."updatedAt") AS modified
    FROM album_asset aa JOIN asset x ON x.id = aa."assetId"
    WHERE aa."albumId" IN (SELECT id FROM mine) AND {VISIBLE}
    GROUP BY aa."albumId"
), people AS (
    SELECT u.id, u.name,
           '{{"id":"' || u.id || '","email":' || to_json(u.email) || ',"name":' || to_json(u.name)
           || ',"profileImagePath":' || to_json(u."profileImagePath") || ',"avatarColor":'
           || to_json(coalesce(nullif(u."avatarColor", ''), (%(palette)s::text[])[
                  (SELECT coalesce(sum(ascii(ch)), 0) FROM regexp_split_to_table(u.email, '') ch)::bigint
                  %% cardinality(%(palette)s::text[]) + 1]))
           || ',"profileChangedAt":' || to_json(u."profileChangedAt") || '}}' AS json
    FROM "user" u
    WHERE u.id IN (SELECT "userId" FROM album_user WHERE "albumId" IN (SELECT id FROM mine))
), members AS (
    SELECT au."albumId", count(*) AS n,
           string_agg('{{"user":' || p.json || ',"role":"' || au.role || '"}}', ','
                      ORDER BY au.role, au."userId" = %(me)s DESC, p.name) AS json
    FROM album_user au JOIN people p ON p.id = au."userId"
    WHERE au."albumId" IN (SELECT id FROM mine)
    GROUP BY au."albumId"
), links AS (
    SELECT DISTINCT s."albumId" FROM shared_link s WHERE s."albumId" IN (SELECT id FROM mine)
)
SELECT '[' || coalesce(string_agg(
    '{{"albumName":' || to_json(m."albumName")
    || ',"description":' || to_json(m.description)
    || ',"albumThumbnailAssetId":' || coalesce('"' || m."albumThumbnailAssetId" || '"', 'null')
    || ',"createdAt":"' || to_char(m."createdAt" AT TIME ZONE 'UTC', {ISO_Z}) || '"'
    || ',"updatedAt":"' || to_char(m."updatedAt" AT TIME ZONE 'UTC', {ISO_Z}) || '"'
    || ',"id":"' || m.id || '"'
    || ',"albumUsers":[' || coalesce(u.json, '') || ']'
    || ',"shared":' || (coalesce(u.n, 0) > 1 OR l."albumId" IS NOT NULL)
    || ',"hasSharedLink":' || (l."albumId" IS NOT NULL)
    || coalesce(',"startDate":"' || to_char(f.first::timestamp, {MIDNIGHT_Z}) || '"', '')
    || coalesce(',"endDate":"' || to_char(f.last::timestamp, {MIDNIGHT_Z}) || '"', '')
    || ',"assetCount":' || coalesce(f.n, 0)
    || ',"isActivityEnabled":' || m."isActivityEnabled"
    || ',"order":' || to_json(m."order")
    || coalesce(',"lastModifiedAssetTimestamp":"'
                || to_char(f.modified AT TIME ZONE 'UTC', {ISO_Z}) || '"', '')
    || '}}', ',' ORDER BY m."createdAt" DESC), '') || ']' AS body
FROM mine m
LEFT JOIN figures f ON f."albumId" = m.id
LEFT JOIN members u ON u."albumId" = m.id
LEFT JOIN links l ON l."albumId" = m.id
"""

MINE_JSON_SEEN = with_snapshot(MINE_JSON)
INFO_SEEN = with_snapshot(INFO)

WITH_ASSET = ALBUM_COLUMNS + _figures(
    """aa."albumId" IN (SELECT "albumId" FROM album_asset WHERE "assetId" = %(asset)s)"""
) + """
WHERE a."deletedAt" IS NULL
  AND EXISTS (SELECT FROM album_user me WHERE me."albumId" = a.id AND me."userId" = %(me)s)
  AND EXISTS (SELECT FROM album_asset aa WHERE aa."albumId" = a.id AND aa."assetId" = %(asset)s)
ORDER BY a."createdAt" DESC
"""

STATISTICS = """
SELECT count(*) FILTER (WHERE me.role = 'owner')::int AS owned,
       count(*) FILTER (WHERE shared)::int AS shared,
       count(*) FILTER (WHERE me.role = 'owner' AND NOT shared)::int AS "notShared"
FROM album a
JOIN album_user me ON me."albumId" = a.id AND me."userId" = %s
CROSS JOIN LATERAL (SELECT
    EXISTS (SELECT FROM album_user o WHERE o."albumId" = a.id AND o.role <> 'owner')
    OR EXISTS (SELECT FROM shared_link s WHERE s."albumId" = a.id) AS shared) f
WHERE a."deletedAt" IS NULL
"""

MAP_MARKERS = f"""
SELECT x.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
FROM album_asset aa JOIN asset x ON x.id = aa."assetId" JOIN asset_exif e ON e."assetId" = x.id
WHERE aa."albumId" = %s AND {VISIBLE} AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
ORDER BY x."fileCreatedAt" DESC
"""

# Immich's updateThumbnails, for the albums ``scope`` selects: a cover that left the album (or
# was trashed) is replaced by the newest asset; an album with assets and no cover gets one.
# The tests are scalar subqueries with LIMIT 1 (one index probe per album): as EXISTS, the
# planner hashes the whole album_asset-asset join instead. The newest asset is an aggregate,
# not ORDER BY ... LIMIT 1, which the planner answers by walking every asset backwards by
# date until one is in the album (all of them when the album is empty).
def _fix_covers(scope: str) -> str:
    return f"""
UPDATE album a SET "albumThumbnailAssetId" = (
    SELECT (array_agg(aa."assetId" ORDER BY x."fileCreatedAt" DESC))[1] FROM album_asset aa
    JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
    WHERE aa."albumId" = a.id)
WHERE {scope} AND CASE
    WHEN a."albumThumbnailAssetId" IS NULL THEN (
        SELECT true FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE aa."albumId" = a.id LIMIT 1) IS NOT NULL
    ELSE (
        SELECT true FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
        WHERE aa."albumId" = a.id AND aa."assetId" = a."albumThumbnailAssetId" LIMIT 1) IS NULL
    END
"""


FIX_COVERS = _fix_covers('a.id = ANY(%s::uuid[])')
FIX_MY_COVERS = _fix_covers("""a.id IN (SELECT "albumId" FROM album_user WHERE "userId" = %s)""")


async def _rows(conn: Conn, query: str, params: Any, *, prepare: bool | None = None) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params, prepare=prepare)
    return list(await cur.fetchall())


# The album queries are never prepared: the right plan depends on the albums' sizes (a hash
# join for an album of 20,000 assets, index probes for a small one), and a prepared
# statement's generic plan, costed for the average album, probes 20,000 times.
async def _album_rows(conn: Conn, query: str, params: Any) -> list[dict[str, Any]]:
    return await _rows(conn, query, params, prepare=False)


async def albums_by_ids(conn: Conn, me: UUID | str, ids: Sequence[UUID | str]) -> list[dict[str, Any]]:
    return await _album_rows(conn, BY_IDS, {"me": me, "ids": list(ids)})


async def album_by_id(conn: Conn, me: UUID | str, album_id: UUID | str) -> dict[str, Any] | None:
    rows = await albums_by_ids(conn, me, [album_id])
    return rows[0] if rows else None


async def album_info(conn: Conn, me: UUID | str, album_id: UUID | str) -> dict[str, Any] | None:
    """One album for GET /albums/{id}: ``album_by_id`` without ``firstLocal``/``lastLocal``,
    with the ``snapshot`` the statement saw (for ``sql.snapshot_cache``)."""
    rows = await _album_rows(conn, INFO_SEEN, {"me": me, "id": album_id})
    return rows[0] if rows else None


async def my_albums(
    conn: Conn, me: UUID | str, *, owned: bool | None, shared: bool | None, album_id: UUID | None,
    name: str | None,
) -> list[dict[str, Any]]:
    params = {"me": me, "owned": owned, "shared": shared, "id": album_id, "name": name}
    return await _album_rows(conn, MINE, params)


async def my_albums_json(
    conn: Conn, me: UUID | str, *, owned: bool | None, shared: bool | None, album_id: UUID | None,
    name: str | None, palette: Sequence[str],
) -> tuple[str, bytes]:
    """``my_albums`` as the JSON array Immich answers (see ``MINE_JSON``), with the snapshot
    the statement saw (for ``sql.snapshot_cache``)."""
    params = {"me": me, "owned": owned, "shared": shared, "id": album_id, "name": name,
              "palette": list(palette)}
    cur = await conn.execute(MINE_JSON_SEEN, params, prepare=False)
    row = await cur.fetchone()
    assert row is not None
    return str(row["snapshot"]), str(row["body"]).encode()


async def my_albums_with_asset(conn: Conn, me: UUID | str, asset_id: UUID) -> list[dict[str, Any]]:
    return await _album_rows(conn, WITH_ASSET, {"me": me, "asset": asset_id})


async def statistics(conn: Conn, me: UUID | str) -> dict[str, Any]:
    rows = await _rows(conn, STATISTICS, (me,))
    return rows[0]


async def map_markers(conn: Conn, album_id: UUID | str) -> list[dict[str, Any]]:
    return await _rows(conn, MAP_MARKERS, (album_id,))


async def fix_covers(conn: Conn, album_ids: Sequence[UUID | str]) -> int:
    """Immich's updateThumbnails for these albums; the number of albums changed."""
    if not album_ids:
        return 0
    cur = await conn.execute(FIX_COVERS, (list(album_ids),))
    return max(cur.rowcount, 0)


async def fix_my_covers(conn: Conn, me: UUID | str) -> int:
    """``fix_covers`` for every album the user is a member of; the number of albums changed."""
    cur = await conn.execute(FIX_MY_COVERS, (me,))
    return max(cur.rowcount, 0)
