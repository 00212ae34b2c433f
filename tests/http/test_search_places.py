"""Suggestions, cities, explore, places and the map on a small library."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.http.test_search import BERLIN, LYON, PARIS, library
from tests.http.test_timeline import Sql, insert_asset


async def get(client: Any, user: Any, path: str, **query: str) -> Any:
    response = await client.get(path, headers=user.headers, query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_suggestions_cascade(client: Any, make_user: Any, sql: Sql) -> None:
    me, stranger, _ = await library(make_user, sql)
    insert_asset(sql, stranger.id, local=datetime(2024, 1, 1), exif={"make": "Leica", "country": "Italy"})
    path = "/api/search/suggestions"
    assert await get(client, me, path, type="country") == ["France", "Germany"]
    assert await get(client, me, path, type="state", country="France") == ["Auvergne", "Île-de-France"]
    assert await get(client, me, path, type="city", country="France", state="Auvergne") == ["Lyon"]
    assert await get(client, me, path, type="camera-make") == ["Canon", "NIKON"]
    assert await get(client, me, path, type="camera-model", make="Canon") == ["EOS R5", "EOS R6"]
    assert await get(client, me, path, type="camera-make", lensModel="RF 24-70") == ["Canon"]
    assert await get(client, me, path, type="camera-lens-model", make="NIKON") == []
    # includeNull appends null (Immich does; the spec's string items cannot say so, so the
    # schema-checking test client would refuse it: not asserted here)
    response = await client.get(path, headers=me.headers, query_string={"type": "planet"})
    assert response.status_code == 400


async def test_cities_one_asset_each(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, _a = await library(make_user, sql)
    body = await get(client, me, "/api/search/cities")
    # images only (Berlin is a video), timeline only, the partner's Paris may stand for Paris
    assert [x["exifInfo"]["city"] for x in body] == ["Lyon", "Paris"]
    assert list(body[0])[:3] == ["id", "createdAt", "ownerId"]
    assert "owner" not in body[0] and body[0]["people"] == []


async def test_explore_needs_five_assets_per_city(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, _a = await library(make_user, sql)
    assert await get(client, me, "/api/search/explore") == [{"fieldName": "exifInfo.city", "items": []}]
    for _ in range(4):
        insert_asset(sql, me.id, local=datetime(2024, 6, 1), exif=LYON)
    body = await get(client, me, "/api/search/explore")
    assert [i["value"] for i in body[0]["items"]] == ["Lyon"]
    assert list(body[0]["items"][0]) == ["value", "data"]
    assert body[0]["items"][0]["data"]["exifInfo"]["city"] == "Lyon"


async def test_places_empty_without_geodata(client: Any, make_user: Any) -> None:
    me = await make_user()
    assert await get(client, me, "/api/search/places", name="Paris") == []


async def test_map_markers_filters(client: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    partner = await make_user("partner@example.com")
    stranger = await make_user("stranger@example.com")
    sql('INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, false)',
        (partner.id, me.id))  # fmt: skip
    geo = {"latitude": 48.85, "longitude": 2.35} | PARIS
    old = insert_asset(sql, me.id, local=datetime(2020, 1, 1), exif=geo)
    new = insert_asset(sql, me.id, local=datetime(2024, 1, 1), exif=geo, favorite=True)
    archived = insert_asset(sql, me.id, local=datetime(2024, 2, 1), exif=geo, visibility="archive")
    insert_asset(sql, me.id, local=datetime(2024, 3, 1), exif=BERLIN)  # no GPS
    insert_asset(sql, me.id, local=datetime(2024, 3, 1), exif=geo, deleted_at=datetime.now(UTC), status="trashed")
    theirs = insert_asset(sql, partner.id, local=datetime(2024, 1, 1), exif=geo)
    shared = insert_asset(sql, stranger.id, local=datetime(2024, 1, 1), exif=geo)
    insert_asset(sql, stranger.id, local=datetime(2024, 1, 1), exif=geo)
    album = sql("INSERT INTO album (\"albumName\") VALUES ('A') RETURNING id")[0][0]
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, \'owner\'), (%s, %s, \'viewer\')',
        (album, stranger.id, album, me.id))  # fmt: skip
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, shared))

    async def markers(**query: str) -> list[str]:
        return [m["id"] for m in await get(client, me, "/api/map/markers", **query)]

    body = await get(client, me, "/api/map/markers")
    assert [m["id"] for m in body] == [new, old]
    assert body[0] == {"id": new, "lat": 48.85, "lon": 2.35, "city": "Paris",
                       "state": "Île-de-France", "country": "France"}  # fmt: skip
    assert await markers(isArchived="true") == [archived, new, old]
    assert await markers(isFavorite="true") == [new]
    assert await markers(fileCreatedAfter="2023-01-01T00:00:00.000Z") == [new]
    assert await markers(fileCreatedBefore="2023-01-01T00:00:00.000Z") == [old]
    assert set(await markers(withPartners="true")) == {new, old, theirs}
    assert set(await markers(withSharedAlbums="true")) == {new, old, shared}


async def test_reverse_geocode_without_geodata(client: Any, make_user: Any) -> None:
    me = await make_user()
    body = await get(client, me, "/api/map/reverse-geocode", lat="48.85", lon="2.35")
    assert body == [{"country": None, "state": None, "city": None}]
    response = await client.get("/api/map/reverse-geocode", headers=me.headers, query_string={"lat": "x", "lon": "1"})
    assert response.status_code == 400
