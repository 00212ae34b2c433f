"""GET /map/markers from the markers the triggers keep (migration 0006): after a script of writes
(plain SQL, as metadata extraction, an adopted tool or a bulk job writes, and through the API),
every filter's answer is byte for byte what the join of asset and asset_exif answered (the
former statement, kept here as the reference), and the kept rows are what a rebuild gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.http.test_timeline import Sql, insert_asset

# The former statement: the markers built from asset JOIN asset_exif at each request.
REFERENCE = """
SELECT '[' || coalesce(string_agg(concat('{{"id":"', m.id, '","lat":', m.lat, ',"lon":', m.lon,
    ',"city":', coalesce(to_json(m.city)::text, 'null'), ',"state":', coalesce(to_json(m.state)::text, 'null'),
    ',"country":', coalesce(to_json(m.country)::text, 'null'), '}}'), ','), '') || ']'
FROM (
    SELECT a.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
    FROM asset a JOIN asset_exif e ON e."assetId" = a.id
         AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
    WHERE {where}
    ORDER BY a."fileCreatedAt" DESC
) m
"""
ALBUM_ASSETS = (
    ' OR a.id IN (SELECT aa."assetId" FROM album_asset aa'
    ' JOIN album al ON al.id = aa."albumId" AND al."deletedAt" IS NULL'
    ' JOIN album_user au ON au."albumId" = al.id AND au."userId" = %(me)s::uuid)'
)
# What the kept rows must hold: the same objects, rebuilt from scratch.
REBUILT = """
SELECT a.id, a."ownerId", a."fileCreatedAt", a.visibility = 'archive', a."isFavorite",
       concat('{"id":"', a.id, '","lat":', e.latitude, ',"lon":', e.longitude,
              ',"city":', coalesce(to_json(e.city)::text, 'null'),
              ',"state":', coalesce(to_json(e.state)::text, 'null'),
              ',"country":', coalesce(to_json(e.country)::text, 'null'), '}')
FROM asset a JOIN asset_exif e ON e."assetId" = a.id
WHERE a."deletedAt" IS NULL AND a.visibility IN ('timeline', 'archive')
  AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
ORDER BY 1
"""
KEPT = 'SELECT "assetId", "ownerId", "fileCreatedAt", archived, "isFavorite", marker FROM immich_trio.map_marker ORDER BY 1'

QUERIES: list[dict[str, str]] = [
    {},
    {"isArchived": "true"},
    {"isFavorite": "true"},
    {"isFavorite": "false", "isArchived": "true"},
    {"withPartners": "true"},
    {"withSharedAlbums": "true"},
    {"withPartners": "true", "withSharedAlbums": "true", "isArchived": "true"},
    {"fileCreatedAfter": "2020-01-03T00:00:00.000Z", "fileCreatedBefore": "2020-01-20T00:00:00.000Z"},
    {"withPartners": "true", "isFavorite": "true", "fileCreatedAfter": "2020-01-05T00:00:00.000Z"},
]


def reference(sql: Sql, me: str, partners: list[str], query: dict[str, str]) -> bytes:
    owners = [me] + (partners if query.get("withPartners") else [])
    conds = ['a."deletedAt" IS NULL']
    conds.append(
        "a.visibility IN ('timeline', 'archive')" if query.get("isArchived") else "a.visibility = 'timeline'"
    )
    params: dict[str, Any] = {"owners": owners, "me": me}
    if "isFavorite" in query:
        params["favorite"] = query["isFavorite"] == "true"
        conds.append('a."isFavorite" = %(favorite)s')
    if "fileCreatedAfter" in query:
        params["after"] = query["fileCreatedAfter"]
        conds.append('a."fileCreatedAt" >= %(after)s::timestamptz')
    if "fileCreatedBefore" in query:
        params["before"] = query["fileCreatedBefore"]
        conds.append('a."fileCreatedAt" <= %(before)s::timestamptz')
    whose = 'a."ownerId" = ANY(%(owners)s::uuid[])' + (ALBUM_ASSETS if query.get("withSharedAlbums") else "")
    conds.append(f"({whose})")
    text = REFERENCE.format(where=" AND ".join(conds))
    rows = sql(text, params)  # type: ignore[arg-type]
    return str(rows[0][0]).encode()


def instants() -> Iterator[datetime]:
    """Distinct creation instants (equal ones have no defined order, then or now)."""
    t = datetime(2020, 1, 1, 12, tzinfo=UTC)
    while True:
        yield t
        t += timedelta(hours=13)


async def test_kept_markers_answer_what_the_join_answered_after_every_write(
    client: Any, make_user: Any, sql: Sql
) -> None:
    me = await make_user()
    partner = await make_user("partner@example.com")
    stranger = await make_user("stranger@example.com")
    sql('INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, true)', (partner.id, me.id))
    when = instants()

    def add(owner: str, **kw: Any) -> str:
        t = next(when)
        return insert_asset(sql, owner, local=t.replace(tzinfo=None), file_created=t, **kw)

    async def check(step: str) -> None:
        assert sql(KEPT) == sql(REBUILT), step
        for query in QUERIES:
            response = await client.get("/api/map/markers", headers=me.headers, query_string=query)
            assert response.status_code == 200, step
            raw = await response.get_data()
            assert raw == reference(sql, me.id, [partner.id], query), (step, query)

    gps: Callable[..., dict[str, Any]] = lambda lat, lon, **more: {"latitude": lat, "longitude": lon} | more  # noqa: E731
    plain = add(me.id, exif=gps(48.85, 2.35, city="Paris", state="Île-de-France", country="France"))
    odd = add(me.id, exif=gps(1e-05, -0.0, city='Say "cheese"', state="</script>", country="日本 🗾"))
    archived = add(me.id, visibility="archive", exif=gps(35.68, 139.69, city="Tokyo"))
    hidden = add(me.id, visibility="hidden", exif=gps(35.0, 135.7))
    locked = add(me.id, visibility="locked", exif=gps(34.6, 135.5))
    trashed = add(me.id, deleted_at=datetime(2024, 1, 1, tzinfo=UTC), status="trashed", exif=gps(40.4, -3.7))
    favorite = add(me.id, favorite=True, exif=gps(41.9, 12.5, city="Rome"))
    no_gps = add(me.id, exif={"city": "Nowhere"})
    half_gps = add(me.id, exif={"latitude": 10.0})
    theirs = add(partner.id, exif=gps(51.5, -0.13, city="London"))
    their_archive = add(partner.id, visibility="archive", favorite=True, exif=gps(52.5, 13.4))
    strangers = add(stranger.id, exif=gps(-33.87, 151.21, city="Sydney"))
    in_album = add(stranger.id, exif=gps(-37.8, 144.96, city="Melbourne"))
    sql('INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",'
        ' checksum, "checksumAlgorithm", "originalFileName") VALUES (%s, \'IMAGE\', \'/x\', %s, %s, %s,'
        " 'x', 'sha1', 'x.jpg')", (me.id, next(when), datetime.now(UTC), datetime.now(UTC)))  # no exif at all
    await check("inserted")

    # Metadata extraction: an upsert finds the place of an asset without one.
    sql('INSERT INTO asset_exif ("assetId", latitude, longitude, city) VALUES (%s, 45.76, 4.83, \'Lyon\')'
        ' ON CONFLICT ("assetId") DO UPDATE SET latitude = excluded.latitude, longitude = excluded.longitude,'
        " city = excluded.city", (no_gps,))
    sql('UPDATE asset_exif SET longitude = 7.5 WHERE "assetId" = %s', (half_gps,))
    sql('UPDATE asset_exif SET longitude = 0.0 WHERE "assetId" = %s', (odd,))  # -0 prints otherwise
    sql('UPDATE asset_exif SET state = NULL WHERE "assetId" = %s', (plain,))
    sql('UPDATE asset_exif SET country = %s WHERE "assetId" = %s', ("Frankreich", archived))
    sql('UPDATE asset_exif SET city = %s WHERE "assetId" = %s', ("Paris 1er", plain))  # each column alone
    sql('UPDATE asset_exif SET "fileSizeInByte" = 5 WHERE "assetId" = %s', (plain,))  # nothing to redo
    await check("exif written")

    # Visibility, favourite, dates, owner, trash and restore in plain SQL (bulk jobs write so).
    sql("UPDATE asset SET visibility = 'timeline' WHERE id = ANY(%s::uuid[])", ([hidden, archived],))
    sql("UPDATE asset SET visibility = 'hidden' WHERE id = %s", (favorite,))
    sql('UPDATE asset SET "isFavorite" = true WHERE id = %s', (plain,))
    sql('UPDATE asset SET "fileCreatedAt" = %s WHERE id = %s', (datetime(2019, 6, 1, tzinfo=UTC), theirs))
    sql('UPDATE asset SET "ownerId" = %s WHERE id = %s', (me.id, strangers))
    sql('UPDATE asset SET "deletedAt" = NULL, status = \'active\' WHERE id = %s', (trashed,))
    sql('UPDATE asset SET "deletedAt" = now(), status = \'trashed\' WHERE id = %s', (half_gps,))
    sql('UPDATE asset SET thumbhash = %s WHERE id = %s', (b"x", plain))  # nothing to redo
    await check("assets updated")

    # An album the stranger owns and shares with me.
    album = sql('INSERT INTO album ("albumName") VALUES (\'Trip\') RETURNING id')[0][0]
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, \'owner\'), (%s, %s, \'editor\')',
        (album, stranger.id, album, me.id))
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s), (%s, %s)', (album, in_album, album, theirs))
    await check("album shared")

    # Through the API: edit the place, archive, favourite, trash, restore, delete for good.
    response = await client.put(f"/api/assets/{plain}", headers=me.headers,
                                json={"latitude": 43.3, "longitude": 5.37, "isFavorite": False})
    assert response.status_code == 200, await response.get_data(as_text=True)
    response = await client.put("/api/assets", headers=me.headers,
                                json={"ids": [archived, hidden], "visibility": "archive", "isFavorite": True})
    assert response.status_code == 204, await response.get_data(as_text=True)
    await check("edited through the API")
    response = await client.delete("/api/assets", headers=me.headers, json={"ids": [plain, odd]})
    assert response.status_code == 204, await response.get_data(as_text=True)
    await check("trashed through the API")
    response = await client.post("/api/trash/restore/assets", headers=me.headers, json={"ids": [plain]})
    assert response.status_code == 200, await response.get_data(as_text=True)
    response = await client.put(f"/api/assets/{favorite}", headers=me.headers, json={"visibility": "timeline"})
    assert response.status_code == 200, await response.get_data(as_text=True)
    await check("restored through the API")
    assert locked not in str(sql(KEPT))  # the locked folder never shows on the map

    # Deletions: an exif row, an asset, the album, a user's whole library (cascades).
    sql('DELETE FROM asset_exif WHERE "assetId" = %s', (no_gps,))
    sql("DELETE FROM asset WHERE id = %s", (hidden,))
    sql("DELETE FROM album WHERE id = %s", (album,))
    await check("deleted")
    sql('DELETE FROM "user" WHERE id = %s', (partner.id,))
    await check("partner's library gone")
    assert their_archive not in str(sql(KEPT))
    sql("TRUNCATE asset_exif")
    assert sql(KEPT) == []
    await check("truncated")


async def test_without_the_kept_markers_the_join_answers_the_same(client: Any, make_user: Any, sql: Sql) -> None:
    """An adopted Immich database skips migration 0006 (its triggers would sit on Immich's
    tables): the markers are then built from the join, with the same bytes."""
    me = await make_user()
    when = instants()
    for lat, city in ((48.85, "Paris"), (-33.87, 'Say "cheese"'), (35.68, None)):
        t = next(when)
        insert_asset(sql, me.id, local=t.replace(tzinfo=None), file_created=t,
                     exif={"latitude": lat, "longitude": 2.5, "city": city})
    for query in QUERIES[:3]:
        response = await client.get("/api/map/markers", headers=me.headers, query_string=query)
        kept = await response.get_data()
        assert kept == reference(sql, me.id, [], query)
        assert kept.count(b'"id"') == (0 if query.get("isFavorite") else 3)
    # As on an adopted database: neither the triggers nor the table.
    sql("DROP FUNCTION immich_trio.map_marker_inserted, immich_trio.map_marker_deleted,"
        " immich_trio.map_marker_updated, immich_trio.map_marker_truncated CASCADE")
    sql("DROP TABLE immich_trio.map_marker")
    t = next(when)
    insert_asset(sql, me.id, local=t.replace(tzinfo=None), file_created=t, exif={"latitude": 1.0, "longitude": 2.0})
    for query in QUERIES[:3]:
        response = await client.get("/api/map/markers", headers=me.headers, query_string=query)
        assert response.status_code == 200
        assert await response.get_data() == reference(sql, me.id, [], query), query
