"""``GET /map/reverse-geocode`` and ``GET /search/places`` answering from loaded geodata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from immich_trio.actors.geodata.loader import import_geodata
from immich_trio.actors.geodata.sources import folder_source
from immich_trio.sql.pool import open_pool
from tests.actors.test_geodata_loader import immich_files  # noqa: F401  (fixture)
from tests.http.test_search_places import get


async def test_reverse_geocode_and_places_from_immich_files(
    client: Any, make_user: Any, db_url: str, immich_files: Path  # noqa: F811
) -> None:
    source = folder_source(immich_files)
    assert source is not None
    async with open_pool(db_url) as pool:
        with trio.fail_after(60):
            assert await import_geodata(pool, source) is not None
    me = await make_user()
    assert await get(client, me, "/api/map/reverse-geocode", lat="48.85", lon="2.35") == [
        {"country": "France", "state": "Île-de-France", "city": "Paris"}
    ]
    assert await get(client, me, "/api/map/reverse-geocode", lat="45.5", lon="0.5") == [
        {"country": "France", "state": None, "city": None}
    ]
    places = await get(client, me, "/api/search/places", name="Marseille")
    assert [(p["name"], p["admin1name"]) for p in places] == [("Marseille", "Provence-Alpes-Côte d'Azur")]
