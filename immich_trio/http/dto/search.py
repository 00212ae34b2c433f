"""Search and Map wire types in the key order of Immich's responses."""

from __future__ import annotations

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import (
    MapReverseGeocodeResponseDto,
    PlacesResponseDto,
    SearchAlbumResponseDto,
    SearchAssetResponseDto,
    SearchExploreItem,
    SearchExploreResponseDto,
)

key_order(SearchAlbumResponseDto, "total", "count", "items", "facets")
key_order(SearchAssetResponseDto, "total", "count", "items", "facets", "next_page")
key_order(SearchExploreResponseDto, "field_name", "items")
key_order(SearchExploreItem, "value", "data")
key_order(PlacesResponseDto, "name", "latitude", "longitude", "admin1name", "admin2name")
# Immich's map repository builds the result country first.
key_order(MapReverseGeocodeResponseDto, "country", "state", "city")
