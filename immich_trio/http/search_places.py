"""The Search tag by place and camera: suggestions, cities, explore, GeoNames places.

Explore answers only its ``exifInfo.city`` field: Immich v3.1 has no other (its "things" come
from smart search, which is separate). Cities with at least 5 of the caller's assets, at most 12.
``/search/places`` reads ``geodata_places``, empty until the geocoding data is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto import search as _search_key_order  # noqa: F401
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import (
    AssetResponseDto,
    PlacesResponseDto,
    SearchExploreItem,
    SearchExploreResponseDto,
)
from immich_trio.http.registry import operation
from immich_trio.sql import search_places as q
from immich_trio.sql import timeline as timeline_q

_SUGGESTION_FILTERS = ("country", "state", "make", "model", "lensModel")


async def _searched_owners(conn: Any, me: UUID) -> list[UUID]:
    partners = await timeline_q.timeline_partner_ids(conn, me)
    return [me, *(p for p in partners if p != me)]


@operation("getSearchSuggestions")
async def get_search_suggestions(ctx: Ctx) -> list[str | None]:
    query = ctx.query
    filters = {k: str(query[k]) for k in _SUGGESTION_FILTERS if query.get(k)}
    async with ctx.db() as conn:
        owners = await _searched_owners(conn, ctx.user.id)
        values: list[str | None] = list(await q.suggestions(conn, owners, str(query["type"]), filters))
    if query.get("includeNull"):
        values.append(None)
    return values


def _city_asset(row: Mapping[str, Any]) -> AssetResponseDto:
    # Immich maps these without a caller: isFavorite shows the owner's flag.
    return asset_dto(row, caller_id=row["ownerId"], exif=row["exifInfo"])


@operation("getAssetsByCity")
async def get_assets_by_city(ctx: Ctx) -> list[AssetResponseDto]:
    async with ctx.db() as conn:
        owners = await _searched_owners(conn, ctx.user.id)
        rows = await q.assets_by_city(conn, owners)
    return [_city_asset(row) for row in rows]


@operation("getExploreData")
async def get_explore_data(ctx: Ctx) -> list[SearchExploreResponseDto]:
    async with ctx.db() as conn:
        rows = await q.explore_cities(conn, ctx.user.id)
    items = [
        SearchExploreItem(
            value=row["value"],
            data=asset_dto(
                row, caller_id=ctx.user.id, exif=row["exifInfo"], owner=row["owner"], tags=row["tags"]
            ),
        )
        for row in rows
    ]
    return [SearchExploreResponseDto(field_name="exifInfo.city", items=items)]


@operation("searchPlaces")
async def search_places(ctx: Ctx) -> list[PlacesResponseDto]:
    async with ctx.db() as conn:
        rows = await q.search_places(conn, str(ctx.query["name"]))
    return [
        PlacesResponseDto(
            name=row["name"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            admin1name=row["admin1Name"] if row["admin1Name"] is not None else OMIT,
            admin2name=row["admin2Name"] if row["admin2Name"] is not None else OMIT,
        )
        for row in rows
    ]
