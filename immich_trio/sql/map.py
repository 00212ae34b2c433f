"""Map queries: the markers of geotagged assets and reverse geocoding of one point.

Markers come back as one JSON text built in PostgreSQL (a compact array of Immich's
``MapMarkerResponseDto`` objects), so 100,000 markers never become Python objects; with the
statement's snapshot, so that the same question is answered again from memory while nothing
commits (``sql.snapshot_cache``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection, sql
from psycopg.adapt import Loader

from immich_trio.sql.country_names import country_name

Conn = AsyncConnection[Any]
REVERSE_GEOCODE_RADIUS_M = 25_000


class _TextAsBytes(Loader):
    """A text column as its UTF-8 bytes: the markers' JSON goes out as it comes, without
    decoding and encoding megabytes."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


class _TextAsJsonArray(Loader):
    """The kept markers' comma-joined objects as the bytes of a JSON array: the brackets put
    around in the one copy out of libpq's buffer (14 MB at 100,000 markers; each further copy
    of a fresh buffer that size costs milliseconds)."""

    def load(self, data: Any) -> bytes:
        return b"".join((b"[", data, b"]"))


@attrs.frozen(kw_only=True)
class MarkerFilter:
    owner_ids: tuple[UUID, ...]
    album_ids_of: UUID | None = None  # also assets in the albums this user owns or joined
    is_archived: bool | None = None
    is_favorite: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


# The assets in the albums this user owns or joined (``%(member)s``): the map's shared-albums filter.
MEMBER_ALBUM_ASSETS = (
    'SELECT aa."assetId" FROM album_asset aa'
    ' JOIN album al ON al.id = aa."albumId" AND al."deletedAt" IS NULL'
    ' JOIN album_user au ON au."albumId" = al.id AND au."userId" = %(member)s::uuid'
)


def _favourite_and_dates(f: MarkerFilter, params: dict[str, Any], prefix: str) -> list[sql.Composable]:
    """The favourite and date filters on ``<prefix>"isFavorite"`` and ``<prefix>"fileCreatedAt"``
    (columns of both ``asset`` and the kept markers)."""
    conds: list[sql.Composable] = []
    if f.is_favorite is not None:
        params["favorite"] = f.is_favorite
        conds.append(sql.SQL(prefix + '"isFavorite" = %(favorite)s'))
    if f.created_after is not None:
        params["after"] = f.created_after
        conds.append(sql.SQL(prefix + '"fileCreatedAt" >= %(after)s'))
    if f.created_before is not None:
        params["before"] = f.created_before
        conds.append(sql.SQL(prefix + '"fileCreatedAt" <= %(before)s'))
    return conds


def _where(f: MarkerFilter, params: dict[str, Any]) -> sql.Composable:
    conds: list[sql.Composable] = [sql.SQL('a."deletedAt" IS NULL')]
    if f.is_archived:
        conds.append(sql.SQL("a.visibility IN ('timeline', 'archive')"))
    else:
        conds.append(sql.SQL("a.visibility = 'timeline'"))
    conds += _favourite_and_dates(f, params, "a.")
    params["owners"] = list(f.owner_ids)
    whose: sql.Composable = sql.SQL('a."ownerId" = ANY(%(owners)s::uuid[])')
    if f.album_ids_of is not None:
        params["member"] = f.album_ids_of
        whose = sql.SQL("({whose} OR a.id IN (" + MEMBER_ALBUM_ASSETS + "))").format(whose=whose)
    conds.append(whose)
    return sql.SQL(" AND ").join(conds)


# One marker object, built with plain text functions: ``concat`` keeps its output functions
# cached (``json_agg`` of a row looks each column's type up again on every row, a fifth of the
# statement's time at 100,000 markers). Strings go through ``to_json`` for JSON's escaping;
# coordinates print as ``float8out`` prints them, as ``json_agg`` did: always a JSON number,
# since Immich's index IDX_asset_exif_gist_earthcoord refuses NaN and infinite coordinates.
MARKER_OBJECT = (
    """concat('{"id":"', m.id, '","lat":', m.lat, ',"lon":', m.lon,"""
    """ ',"city":', coalesce(to_json(m.city)::text, 'null'),"""
    """ ',"state":', coalesce(to_json(m.state)::text, 'null'),"""
    """ ',"country":', coalesce(to_json(m.country)::text, 'null'), '}')"""
)
MARKERS_JSON = (
    """
SELECT pg_current_snapshot()::text AS snapshot,
       '[' || coalesce(string_agg("""
    + MARKER_OBJECT.replace("{", "{{").replace("}", "}}")  # literal braces in sql.SQL.format
    + """, ','), '') || ']' AS body
FROM (
    SELECT a.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
    FROM asset a JOIN asset_exif e ON e."assetId" = a.id
         AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
    WHERE {where}
    ORDER BY a."fileCreatedAt" DESC
) m
"""
)
# The markers kept ahead of time by triggers (migration 0006); absent on an adopted Immich
# database, whose schema we leave alone: then the join above answers. In the same statement (one
# round trip), the sort memory for this transaction: the join's sorted rows of a large library
# (~7 MB at 100,000 markers) fit in memory, not spilled to temporary files (the kept markers
# sort only for several owners or albums).
KEPT_MARKERS_PRESENT = (
    "SELECT to_regclass('immich_trio.map_marker') IS NOT NULL AS present,"
    " set_config('work_mem', '64MB', true)"
)
# The objects joined by commas only: the brackets are added in Python, as wrapping a 14 MB
# text in PostgreSQL ('[' || ... || ']') costs as much again as the aggregate (measured: 90 ms
# against 50 ms at 100,000 markers).
KEPT_MARKERS_JSON = """
SELECT pg_current_snapshot()::text::varchar AS snapshot, string_agg(m.marker, ',') AS body
FROM ({branches} ORDER BY "fileCreatedAt" DESC) m
"""
KEPT_BRANCH = 'SELECT marker, "fileCreatedAt" FROM immich_trio.map_marker WHERE {where}'
ALBUM_MEMBER_ASSETS = '"assetId" IN (' + MEMBER_ALBUM_ASSETS + ') AND "ownerId" <> ALL(%(owners)s::uuid[])'


def _kept_query(f: MarkerFilter, params: dict[str, Any]) -> sql.Composed:
    """One branch per owner (an ordered scan of the owner's index range each, merged by
    PostgreSQL's Merge Append, no sort) and one for the albums' other assets."""
    common: list[sql.Composable] = [] if f.is_archived else [sql.SQL("NOT archived")]
    common += _favourite_and_dates(f, params, "")
    whose: list[sql.Composable] = []
    for i, owner in enumerate(dict.fromkeys(f.owner_ids)):
        params[f"owner{i}"] = owner
        whose.append(sql.SQL('"ownerId" = {}::uuid').format(sql.Placeholder(f"owner{i}")))
    if f.album_ids_of is not None:
        params["member"] = f.album_ids_of
        params["owners"] = list(f.owner_ids)
        whose.append(sql.SQL(ALBUM_MEMBER_ASSETS))
    branches = [
        sql.SQL(KEPT_BRANCH).format(where=sql.SQL(" AND ").join([w, *common])) for w in whose
    ]
    return sql.SQL(KEPT_MARKERS_JSON).format(branches=sql.SQL(" UNION ALL ").join(branches))


async def markers_json(conn: Conn, f: MarkerFilter) -> tuple[str, bytes]:
    """The markers, newest first, as a JSON array text, with the snapshot the statement saw
    (for ``sql.snapshot_cache``).

    From the markers the triggers keep (each object's text stored, in index order per owner),
    else built from asset JOIN asset_exif: in PostgreSQL, in the order the subquery sorts them,
    compact (no spaces, as Immich sends them) and with the DTO's field order, joined by
    ``string_agg``; the text comes back as bytes and is sent as it comes.
    """
    params: dict[str, Any] = {}
    async with conn.transaction():
        cur = await conn.execute(KEPT_MARKERS_PRESENT)
        present = await cur.fetchone()
        kept = present is not None and present["present"] and bool(f.owner_ids)
        query = _kept_query(f, params) if kept else sql.SQL(MARKERS_JSON).format(where=_where(f, params))
        cur = conn.cursor()
        cur.adapters.register_loader("text", _TextAsJsonArray if kept else _TextAsBytes)
        await cur.execute(query, params)
        row = await cur.fetchone()
    assert row is not None
    if not kept:
        return bytes(row["snapshot"]).decode(), bytes(row["body"])
    return str(row["snapshot"]), row["body"] or b"[]"  # no marker at all: string_agg's NULL


REVERSE_GEOCODE = """
SELECT name AS city, "admin1Name" AS state, "countryCode" AS country_code
FROM geodata_places
WHERE earth_box(ll_to_earth_public(%(lat)s, %(lon)s), %(radius)s) @> ll_to_earth_public(latitude, longitude)
ORDER BY earth_distance(ll_to_earth_public(%(lat)s, %(lon)s), ll_to_earth_public(latitude, longitude))
LIMIT 1
"""

COUNTRY_AT = """
SELECT admin_a3 FROM naturalearth_countries
WHERE coordinates @> point(%(lon)s, %(lat)s)
LIMIT 1
"""


async def nearest_place(conn: Conn, lat: float, lon: float) -> dict[str, Any] | None:
    """The nearest GeoNames place within 25 km: city, state and the ISO country code."""
    cur = await conn.execute(
        REVERSE_GEOCODE, {"lat": lat, "lon": lon, "radius": REVERSE_GEOCODE_RADIUS_M}
    )
    return await cur.fetchone()


async def country_code_at(conn: Conn, lat: float, lon: float) -> str | None:
    """The Natural Earth country (ISO alpha-3) whose polygon holds the point."""
    cur = await conn.execute(COUNTRY_AT, {"lat": lat, "lon": lon})
    row = await cur.fetchone()
    return str(row["admin_a3"]) if row is not None else None


@attrs.frozen(kw_only=True)
class Place:
    """What reverse geocoding answers, as Immich does: names, or None each."""

    city: str | None = None
    state: str | None = None
    country: str | None = None


async def reverse_geocode(conn: Conn, lat: float, lon: float) -> Place:
    """Immich's reverse geocoding: the nearest place within 25 km (its name, admin1 name
    and the English country name), else the country whose polygon holds the point."""
    place = await nearest_place(conn, lat, lon)
    if place is not None:
        return Place(city=place["city"], state=place["state"], country=country_name(place["country_code"]))
    return Place(country=country_name(await country_code_at(conn, lat, lon)))


SHARING_PARTNERS = """
SELECT p."sharedById" AS id
FROM partner p JOIN "user" u ON u.id = p."sharedById" AND u."deletedAt" IS NULL
WHERE p."sharedWithId" = %s
"""


async def sharing_partner_ids(conn: Conn, viewer_id: UUID) -> list[UUID]:
    """Every user who shares their library with ``viewer_id`` (in their timeline or not)."""
    cur = await conn.execute(SHARING_PARTNERS, (viewer_id,))
    return [row["id"] for row in await cur.fetchall()]
