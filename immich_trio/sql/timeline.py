"""Timeline queries: monthly bucket counts and one bucket's columnar JSON, both built in Postgres.

Buckets follow the expression of ``asset_localDateTime_month_idx`` exactly, so a bucket is an
index lookup and the bucket counts are an index-only scan of ``immich_trio_asset_timeline_month_idx``
(migration 0004); the JSON text comes back ready to send (behaviour.md §8).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import attrs
from psycopg import AsyncConnection, sql

Order = Literal["asc", "desc"]
OrderBy = Literal["takenAt", "createdAt"]

# Must stay identical to the expression of asset_localDateTime_month_idx and of
# immich_trio_asset_timeline_month_idx: the planner matches index expressions textually.
_MONTH_TAKEN = sql.SQL(
    """(date_trunc('MONTH'::text, (a."localDateTime" AT TIME ZONE 'UTC'::text)) AT TIME ZONE 'UTC'::text)"""
)
_MONTH_CREATED = sql.SQL(
    """(date_trunc('MONTH'::text, (a."createdAt" AT TIME ZONE 'UTC'::text)) AT TIME ZONE 'UTC'::text)"""
)
EARTH_RADIUS_M = 6_371_000.0


@attrs.frozen(kw_only=True)
class BBox:
    west: float
    south: float
    east: float
    north: float


@attrs.frozen(kw_only=True)
class TimelineFilter:
    """Which assets a timeline shows (Immich's TimeBucketOptions, access already checked)."""

    caller_id: UUID
    owner_ids: tuple[UUID, ...] = ()  # none: any owner (an album's timeline)
    album_id: UUID | None = None
    tag_id: UUID | None = None  # the tag or any of its descendants (tag_closure)
    person_id: UUID | None = None  # assets with a visible, non-deleted face of the person
    visibility: str | None = None
    is_trashed: bool | None = None
    is_favorite: bool | None = None
    with_stacked: bool = False
    with_coordinates: bool = False
    order: Order = "desc"
    order_by: OrderBy = "takenAt"
    bbox: BBox | None = None


def _bbox_condition(box: BBox, params: dict[str, Any]) -> sql.Composable:
    """Box test on the exif coordinates, with an earth-box prefilter the GiST index can use."""
    params.update(south=box.south, north=box.north, west=box.west, east=box.east)
    parts: list[sql.Composable] = [
        sql.SQL('e.latitude BETWEEN %(south)s AND %(north)s'),
    ]
    if box.west <= box.east:
        parts.append(sql.SQL("e.longitude BETWEEN %(west)s AND %(east)s"))
        # Circle around the box centre reaching its farthest corner.
        lat0, lon0 = (box.south + box.north) / 2, (box.west + box.east) / 2
        radius = max(
            _distance(lat0, lon0, lat, lon)
            for lat in (box.south, box.north)
            for lon in (box.west, box.east)
        )
        params.update(clat=lat0, clon=lon0, radius=radius * 1.001 + 1)
        parts.append(
            sql.SQL(
                "ll_to_earth_public(e.latitude, e.longitude)"
                " <@ earth_box(ll_to_earth_public(%(clat)s, %(clon)s), %(radius)s)"
            )
        )
    else:  # crosses the antimeridian
        parts.append(sql.SQL("(e.longitude >= %(west)s OR e.longitude <= %(east)s)"))
    return sql.SQL(" AND ").join(parts)


def _distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _where(f: TimelineFilter, params: dict[str, Any]) -> sql.Composable:
    conds: list[sql.Composable] = []
    if f.album_id is not None:
        params["album"] = f.album_id
        conds.append(
            sql.SQL('a.id IN (SELECT aa."assetId" FROM album_asset aa WHERE aa."albumId" = %(album)s::uuid)')
        )
    if f.tag_id is not None:
        params["tag"] = f.tag_id
        conds.append(
            sql.SQL(
                'EXISTS (SELECT 1 FROM tag_closure tc JOIN tag_asset ta ON ta."tagId" = tc.id_descendant'
                ' WHERE tc.id_ancestor = %(tag)s::uuid AND ta."assetId" = a.id)'
            )
        )
    if f.person_id is not None:
        params["person"] = f.person_id
        conds.append(
            sql.SQL(
                'EXISTS (SELECT 1 FROM asset_face af WHERE af."assetId" = a.id'
                ' AND af."personId" = %(person)s::uuid AND af."deletedAt" IS NULL AND af."isVisible")'
            )
        )
    if len(f.owner_ids) == 1:
        # Equality (not ANY of a one-element array) tells the planner that the index scan on
        # immich_trio_asset_timeline_month_idx is already in month order: the buckets are
        # counted by a streaming GroupAggregate instead of a hash over every asset.
        params["owner"] = f.owner_ids[0]
        conds.append(sql.SQL('a."ownerId" = %(owner)s::uuid'))
    elif f.owner_ids:
        params["owners"] = list(f.owner_ids)
        conds.append(sql.SQL('a."ownerId" = ANY(%(owners)s::uuid[])'))
    if f.is_trashed:
        conds.append(sql.SQL("""a."deletedAt" IS NOT NULL AND a.status <> 'deleted'"""))
    else:
        conds.append(sql.SQL('a."deletedAt" IS NULL'))
    if f.visibility is None:
        conds.append(sql.SQL("a.visibility IN ('archive', 'timeline')"))
    else:
        params["visibility"] = f.visibility
        conds.append(sql.SQL("a.visibility = %(visibility)s::asset_visibility_enum"))
    if f.is_favorite is not None:
        params["favorite"] = f.is_favorite
        conds.append(sql.SQL('a."isFavorite" = %(favorite)s'))
    if f.with_stacked:
        # Only the primary asset of a stack stands for it.
        conds.append(
            sql.SQL(
                '(a."stackId" IS NULL OR NOT EXISTS (SELECT 1 FROM stack s'
                ' WHERE s.id = a."stackId" AND s."primaryAssetId" <> a.id))'
            )
        )
    if f.bbox is not None:
        conds.append(_bbox_condition(f.bbox, params))
    return sql.SQL(" AND ").join(conds)


def _month(f: TimelineFilter) -> sql.Composable:
    return _MONTH_CREATED if f.order_by == "createdAt" else _MONTH_TAKEN


def _direction(f: TimelineFilter) -> sql.Composable:
    return sql.SQL("ASC") if f.order == "asc" else sql.SQL("DESC")


def buckets_query(f: TimelineFilter) -> tuple[sql.Composed, dict[str, Any]]:
    params: dict[str, Any] = {}
    exif_join = (
        sql.SQL('JOIN asset_exif e ON e."assetId" = a.id') if f.bbox is not None else sql.SQL("")
    )
    query = sql.SQL(
        """
SELECT coalesce(json_agg(json_build_object(
           'timeBucket', (b.bucket AT TIME ZONE 'UTC')::date::text, 'count', b.count)
         ORDER BY b.bucket {dir}), '[]')::text AS body
FROM (
    SELECT {month} AS bucket, count(*) AS count
    FROM asset a {exif_join}
    WHERE {where}
    GROUP BY 1
) b
"""
    ).format(dir=_direction(f), month=_month(f), exif_join=exif_join, where=_where(f, params))
    return query, params


# Columns of one bucket, in the key order of Immich's response (behaviour.md §8).
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("duration", "a.duration"),
    ("id", "a.id"),
    ("visibility", "a.visibility"),
    ("isFavorite", '(a."isFavorite" AND a."ownerId" = %(caller)s::uuid)'),
    ("isImage", "a.type = 'IMAGE'"),
    ("isTrashed", 'a."deletedAt" IS NOT NULL'),
    ("livePhotoVideoId", 'a."livePhotoVideoId"'),
    ("fileCreatedAt", """a."fileCreatedAt" AT TIME ZONE 'UTC'"""),
    (
        "localOffsetHours",
        # Subtracting the instants equals subtracting their UTC wall clocks, minus two zone lookups.
        """extract(epoch FROM (a."localDateTime" - a."fileCreatedAt"))::real / 3600""",
    ),
    ("createdAt", """a."createdAt" AT TIME ZONE 'UTC'"""),
    ("ownerId", 'a."ownerId"'),
    ("projectionType", 'e."projectionType"'),
    (
        "ratio",
        "coalesce(CASE WHEN a.width = 0 OR a.height = 0 THEN 1"
        " ELSE round(a.width::numeric / a.height::numeric, 3) END, 1)",
    ),
    ("status", "a.status"),
    ("thumbhash", "encode(a.thumbhash, 'base64')"),
    ("city", "e.city"),
    ("country", "e.country"),
)
_COORDINATES = (("latitude", "e.latitude"), ("longitude", "e.longitude"))


def bucket_query(
    f: TimelineFilter, bucket: datetime, *, with_place: bool = True
) -> tuple[sql.Composed, dict[str, Any]]:
    """One bucket as a JSON object of parallel arrays (``body`` column, text)."""
    params: dict[str, Any] = {"caller": f.caller_id}
    columns = [c for c in _COLUMNS if with_place or c[0] not in ("city", "country")]
    if f.with_coordinates:
        columns.extend(_COORDINATES)
    select: list[sql.Composable] = [
        sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(key)) for key, expr in columns
    ]
    aggregates: list[sql.Composable] = [
        sql.SQL("{key}, coalesce(array_agg(c.{col}), '{{}}')").format(
            key=sql.Literal(key), col=sql.Identifier(key)
        )
        for key, _ in columns
    ]
    stack_join: sql.Composable = sql.SQL("")
    if f.with_stacked:
        select.append(sql.SQL("st.stack AS stack"))
        # Arrays of arrays cannot be array_agg'ed when some are null; json_agg keeps nulls.
        aggregates.append(sql.SQL("'stack', coalesce(json_agg(c.stack), '[]')"))
        stack_join = sql.SQL(
            """
    LEFT JOIN LATERAL (
        SELECT ARRAY[s."stackId"::text, count(*)::text] AS stack
        FROM asset s
        WHERE s."stackId" = a."stackId" AND s."deletedAt" IS NULL AND s.visibility = 'timeline'
        GROUP BY s."stackId"
    ) st ON true"""
        )
    order: sql.Composable
    bucket_range: sql.Composable
    if f.order_by == "createdAt":
        order = sql.SQL('a."createdAt" {dir}').format(dir=_direction(f))
        bucket_range = sql.SQL(
            """a."createdAt" >= %(bucket)s AND a."createdAt" < %(bucket)s + interval '1 month'"""
        )
    else:
        order = sql.SQL(
            """(a."localDateTime" AT TIME ZONE 'UTC')::date {dir}, a."fileCreatedAt" {dir}"""
        ).format(dir=_direction(f))
        bucket_range = sql.SQL("{month} = %(bucket)s").format(month=_MONTH_TAKEN)
    params["bucket"] = bucket
    query = sql.SQL(
        """
WITH c AS (
    SELECT {select}
    FROM asset a
    LEFT JOIN asset_exif e ON e."assetId" = a.id{stack_join}
    WHERE {where} AND {bucket_range}
    ORDER BY {order}
)
SELECT json_build_object({aggregates})::text AS body FROM c
"""
    ).format(
        select=sql.SQL(",\n           ").join(select),
        stack_join=stack_join,
        where=_where(f, params),
        bucket_range=bucket_range,
        order=order,
        aggregates=sql.SQL(",\n    ").join(aggregates),
    )
    return query, params


async def time_buckets(conn: AsyncConnection[Any], f: TimelineFilter) -> str:
    query, params = buckets_query(f)
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return str(row["body"])


async def time_bucket(
    conn: AsyncConnection[Any], f: TimelineFilter, bucket: datetime, *, with_place: bool = True
) -> str:
    query, params = bucket_query(f, bucket, with_place=with_place)
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return str(row["body"])


TIMELINE_PARTNERS = """
SELECT p."sharedById" AS id
FROM partner p JOIN "user" u ON u.id = p."sharedById" AND u."deletedAt" IS NULL
WHERE p."sharedWithId" = %s AND p."inTimeline"
"""


async def timeline_partner_ids(conn: AsyncConnection[Any], viewer_id: UUID) -> list[UUID]:
    """Partners sharing with ``viewer_id`` who asked to appear in their timeline."""
    cur = await conn.execute(TIMELINE_PARTNERS, (viewer_id,))
    return [row["id"] for row in await cur.fetchall()]
