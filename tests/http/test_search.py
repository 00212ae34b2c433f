"""POST /api/search/{metadata,statistics,random} and large-assets on a small library."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from tests.http.test_timeline import Sql, insert_asset

DAY = datetime(2024, 5, 10, 12)
PARIS = {"city": "Paris", "state": "Île-de-France", "country": "France", "make": "Canon",
         "model": "EOS R5", "lensModel": "RF 24-70", "rating": 5, "fileSizeInByte": 3000,
         "description": "Eiffel tower at night"}  # fmt: skip
LYON = {"city": "Lyon", "state": "Auvergne", "country": "France", "make": "NIKON",
        "model": "Z6", "rating": 3, "fileSizeInByte": 9000}  # fmt: skip
BERLIN = {"city": "Berlin", "state": "Berlin", "country": "Germany", "make": "Canon",
          "model": "EOS R6", "fileSizeInByte": 100}  # fmt: skip


async def search(client: Any, user: Any, body: dict[str, Any], status: int = 200) -> Any:
    response = await client.post("/api/search/metadata", headers=user.headers, json=body)
    assert response.status_code == status, await response.get_data(as_text=True)
    return await response.get_json()


async def ids(client: Any, user: Any, **body: Any) -> set[str]:
    return {a["id"] for a in (await search(client, user, body))["assets"]["items"]}


async def library(make_user: Any, sql: Sql) -> tuple[Any, Any, dict[str, str]]:
    me = await make_user()
    partner = await make_user("partner@example.com")
    stranger = await make_user("stranger@example.com")
    sql('INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, true)',
        (partner.id, me.id))  # fmt: skip
    a = {
        "paris": insert_asset(sql, me.id, local=datetime(2024, 5, 1, 12), exif=PARIS, favorite=True),
        "lyon": insert_asset(sql, me.id, local=datetime(2024, 5, 2, 12), exif=LYON),
        "berlin": insert_asset(sql, me.id, local=datetime(2024, 5, 3, 12), exif=BERLIN, type="VIDEO"),
        "bare": insert_asset(sql, me.id, local=datetime(2023, 1, 1, 12)),
        "archived": insert_asset(sql, me.id, local=DAY, visibility="archive", exif=PARIS),
        "locked": insert_asset(sql, me.id, local=DAY, visibility="locked", exif=PARIS),
        "trashed": insert_asset(sql, me.id, local=DAY, deleted_at=datetime.now(UTC), status="trashed"),
        "partner": insert_asset(sql, partner.id, local=DAY, exif=PARIS),
        "partner_archived": insert_asset(sql, partner.id, local=DAY, visibility="archive"),
        "stranger": insert_asset(sql, stranger.id, local=DAY, exif=PARIS),
    }
    return me, stranger, a


async def test_envelope_and_access(client: Any, make_user: Any, sql: Sql) -> None:
    me, stranger, a = await library(make_user, sql)
    body = await search(client, me, {})
    assert list(body) == ["albums", "assets"]
    assert body["albums"] == {"total": 0, "count": 0, "items": [], "facets": []}
    assert list(body["assets"]) == ["total", "count", "items", "facets", "nextPage"]
    found = {i["id"] for i in body["assets"]["items"]}
    # mine (archive too, never locked or trashed) and the partner's timeline; never the stranger's
    assert found == {a["paris"], a["lyon"], a["berlin"], a["bare"], a["archived"], a["partner"]}
    assert body["assets"]["total"] == body["assets"]["count"] == 6
    assert body["assets"]["nextPage"] is None
    item = body["assets"]["items"][0]
    assert "exifInfo" not in item and "stack" not in item and item["people"] == []
    assert await ids(client, stranger, id=a["paris"]) == set()
    assert await ids(client, me, id=a["stranger"]) == set()


async def test_order_and_paging(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, a = await library(make_user, sql)
    first = (await search(client, me, {"size": 2, "visibility": "timeline"}))["assets"]
    assert first["nextPage"] == "2" and first["count"] == 2
    seen = [i["id"] for i in first["items"]]
    page = 2
    while True:
        body = (await search(client, me, {"size": 2, "page": page, "visibility": "timeline"}))["assets"]
        seen += [i["id"] for i in body["items"]]
        if body["nextPage"] is None:
            break
        page = int(body["nextPage"])
    assert seen[-1] == a["bare"] and len(seen) == len(set(seen)) == 5
    asc = (await search(client, me, {"order": "asc", "visibility": "timeline"}))["assets"]["items"]
    assert [i["id"] for i in asc] == list(reversed(seen))


async def test_exif_filters_and_null(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, a = await library(make_user, sql)
    assert await ids(client, me, city="Paris", visibility="timeline") == {a["paris"], a["partner"]}
    assert await ids(client, me, country="France", make="NIKON") == {a["lyon"]}
    assert await ids(client, me, lensModel="RF 24-70", isFavorite=True) == {a["paris"]}
    assert await ids(client, me, model="EOS R6") == {a["berlin"]}
    assert await ids(client, me, state="Berlin", type="VIDEO") == {a["berlin"]}
    assert await ids(client, me, city=None) == {a["bare"]}
    assert await ids(client, me, rating=3) == {a["lyon"]}
    assert await ids(client, me, rating=None, visibility="timeline") == {a["berlin"], a["bare"]}
    # contradictory filters: nothing
    assert await ids(client, me, city="Paris", country="Germany") == set()


async def test_dates_text_and_checksum(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, a = await library(make_user, sql)
    assert await ids(client, me, takenAfter="2024-05-02T00:00:00.000Z", takenBefore="2024-05-03T00:00:00.000Z") == {
        a["lyon"]
    }
    assert await ids(client, me, takenBefore="2023-12-31T00:00:00.000Z") == {a["bare"]}
    assert await ids(client, me, createdAfter="2999-01-01T00:00:00.000Z") == set()
    assert await ids(client, me, trashedAfter="2000-01-01T00:00:00.000Z") == {a["trashed"]}
    assert a["trashed"] in await ids(client, me, withDeleted=True)
    assert await ids(client, me, description="EIFFEL", visibility="timeline") == {a["paris"], a["partner"]}
    assert len(await ids(client, me, originalFileName="img.J")) == 6
    checksum = sql("SELECT checksum FROM asset WHERE id = %s", (a["lyon"],))[0][0]
    assert await ids(client, me, checksum=base64.b64encode(checksum).decode()) == {a["lyon"]}
    assert await ids(client, me, checksum=checksum.hex()) == {a["lyon"]}
    assert await ids(client, me, checksum="not a checksum") == set()


async def test_albums_tags_and_flags(client: Any, make_user: Any, sql: Sql) -> None:
    me, stranger, a = await library(make_user, sql)
    album = sql("INSERT INTO album (\"albumName\") VALUES ('A') RETURNING id")[0][0]
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, \'owner\')', (album, me.id))
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s), (%s, %s)',
        (album, a["paris"], album, a["stranger"]))  # fmt: skip
    assert await ids(client, me, albumIds=[str(album)]) == {a["paris"]}
    assert a["paris"] not in await ids(client, me, isNotInAlbum=True)
    tag = sql("INSERT INTO tag (\"userId\", value) VALUES (%s, 'T') RETURNING id", (me.id,))[0][0]
    sql("INSERT INTO tag_closure (id_ancestor, id_descendant) VALUES (%s, %s)", (tag, tag))
    sql('INSERT INTO tag_asset ("tagId", "assetId") VALUES (%s, %s)', (tag, a["lyon"]))
    assert await ids(client, me, tagIds=[str(tag)]) == {a["lyon"]}
    assert a["lyon"] not in await ids(client, me, tagIds=None)
    unknown = "0b3c7c2e-4c7e-4e8a-9d1a-6f3b2a1c0d9e"
    assert await ids(client, me, albumIds=[unknown]) == set()
    assert await ids(client, me, tagIds=[unknown]) == set()
    assert await ids(client, me, personIds=[unknown]) == set()
    assert await ids(client, stranger, albumIds=[str(album)]) == {a["stranger"]}
    assert await ids(client, me, isMotion=True) == set()
    assert await ids(client, me, isEncoded=True) == set()
    assert await ids(client, me, isOffline=True) == set()


async def test_exif_and_visibility(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, a = await library(make_user, sql)
    body = await search(client, me, {"id": a["paris"], "withExif": True})
    exif = body["assets"]["items"][0]["exifInfo"]
    assert exif["city"] == "Paris" and exif["rating"] == 5 and exif["fileSizeInByte"] == 3000
    assert await ids(client, me, visibility="archive") == {a["archived"]}
    locked = await client.post("/api/search/metadata", headers=me.headers, json={"visibility": "locked"})
    assert locked.status_code == 401


async def test_bad_input(client: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    body = await search(client, me, {"size": 1001}, status=400)
    assert body["message"] == "Validation failed"
    await search(client, me, {"size": 0}, status=400)
    await search(client, me, {"page": 0}, status=400)
    await search(client, me, {"rating": 6}, status=400)
    await search(client, me, {"personIds": ["nope"]}, status=400)


async def test_statistics_random_large(client: Any, make_user: Any, sql: Sql) -> None:
    me, _, a = await library(make_user, sql)
    response = await client.post("/api/search/statistics", headers=me.headers, json={"country": "France"})
    assert await response.get_json() == {"total": 4}
    response = await client.post("/api/search/random", headers=me.headers, json={"size": 2})
    assert response.status_code == 200
    assert len(await response.get_json()) == 2
    response = await client.post(
        "/api/search/large-assets", headers=me.headers, query_string={"minFileSize": "150"}
    )
    large = await response.get_json()
    assert response.status_code == 200, large
    assert large[0]["id"] == a["lyon"]
    assert {x["id"] for x in large[1:]} == {a["paris"], a["archived"], a["partner"]}
    assert a["berlin"] not in {x["id"] for x in large}
    assert large[0]["exifInfo"]["fileSizeInByte"] == 9000
