"""The Map tag: markers of the caller's geotagged assets, reverse geocoding of a point.

Markers: the caller's assets (with ``withPartners`` also those of every partner sharing with
them; with ``withSharedAlbums`` also the assets of albums they own or joined), timeline only
unless ``isArchived`` (then archive too), never trashed, newest first. The JSON is joined in
PostgreSQL from each marker's text, kept ahead of time by triggers (``sql.map``), and sent as it
comes; asked again while nothing has committed, the same answer
comes from memory (``sql.snapshot_cache``, as GET /albums). Reverse geocoding answers the nearest GeoNames place within
25 km (city, state, English country name), else the country polygon's name, else
``[{"country":null,"state":null,"city":null}]`` (as Immich does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from immich_trio.http.context import Ctx
from immich_trio.http.dto import search as _search_key_order  # noqa: F401
from immich_trio.http.dto.generated import MapReverseGeocodeResponseDto
from immich_trio.http.registry import operation
from immich_trio.sql import map as q
from immich_trio.sql.snapshot_cache import current_snapshot


def _datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


@operation("getMapMarkers")
async def get_map_markers(ctx: Ctx) -> bytes:
    # The bytes themselves, not a Reply: the common answer's path (ETag from the bytes in hand,
    # no werkzeug Response reading 14 MB back to hash it).
    query = ctx.query
    me = ctx.user.id
    key = ("getMapMarkers", me, tuple(sorted((k, str(v)) for k, v in query.items())))
    async with ctx.db() as conn:
        # Nothing committed since the same question was answered: the same answer.
        cached = ctx.runtime.answers.get(key, await current_snapshot(conn))
        if cached is not None:
            return cached
        owners = [me]
        if query.get("withPartners"):
            owners += [p for p in await q.sharing_partner_ids(conn, me) if p != me]
        f = q.MarkerFilter(
            owner_ids=tuple(owners),
            album_ids_of=me if query.get("withSharedAlbums") else None,
            is_archived=query.get("isArchived"),
            is_favorite=query.get("isFavorite"),
            created_after=_datetime(query.get("fileCreatedAfter")),
            created_before=_datetime(query.get("fileCreatedBefore")),
        )
        snapshot, body = await q.markers_json(conn, f)
    ctx.runtime.answers.put(key, snapshot, body)
    return body


@operation("reverseGeocode")
async def reverse_geocode(ctx: Ctx) -> list[MapReverseGeocodeResponseDto]:
    lat, lon = float(ctx.query["lat"]), float(ctx.query["lon"])
    async with ctx.db() as conn:
        place = await q.reverse_geocode(conn, lat, lon)
    # Immich answers one result even when nothing is found: all null.
    return [MapReverseGeocodeResponseDto(city=place.city, state=place.state, country=place.country)]
