"""GET /map/markers: the JSON built with ``string_agg`` answers what ``json_agg`` of the rows
answered (the statement before it, kept here as the reference), and a repeated question is
answered from memory only while nothing commits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tests.http.test_timeline import Sql, insert_asset

# The former statement (json_agg of each row), for one owner: the reference answer.
REFERENCE = """
SELECT coalesce(json_agg(m), '[]')::text
FROM (
    SELECT a.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
    FROM asset a JOIN asset_exif e ON e."assetId" = a.id
         AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
    WHERE a."deletedAt" IS NULL AND a.visibility = 'timeline' AND a."ownerId" = %s
    ORDER BY a."fileCreatedAt" DESC
) m
"""

# Strings JSON must escape, non-ASCII, nulls, whole, tiny and long coordinates (NaN and
# infinities cannot be stored: Immich's earth-coordinates index refuses them).
PLACES: list[dict[str, Any]] = [
    {"latitude": 39.0, "longitude": -108.0},
    {"latitude": 39.115, "longitude": -108.400968, "city": "Paris", "state": "Île-de-France", "country": "France"},
    {"latitude": 48.85661400000001, "longitude": 2.3522219, "city": 'Say "cheese"', "state": "back\\slash",
     "country": "tab\there\nnewline\u0001"},
    {"latitude": -33.8688, "longitude": 151.2093, "city": "東京", "state": None, "country": "日本 🗾"},
    {"latitude": 1e-05, "longitude": -0.0, "city": "", "state": "</script>", "country": "'"},
    {"latitude": 90.0, "longitude": -180.0, "city": "Nowhere"},
]


async def markers(client: Any, user: Any, **query: str) -> tuple[bytes, Any]:
    response = await client.get("/api/map/markers", headers=user.headers, query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_data(), await response.get_json()


async def test_markers_answer_what_json_agg_answered(client: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    ids = [insert_asset(sql, me.id, local=datetime(2020, 1, 1 + i), exif=exif) for i, exif in enumerate(PLACES)]
    raw, body = await markers(client, me)
    reference = json.loads(sql(REFERENCE, (me.id,))[0][0])
    assert json.loads(raw) == reference
    assert [m["id"] for m in body] == ids[::-1]  # newest first
    assert body[-1] == {"id": ids[0], "lat": 39, "lon": -108, "city": None, "state": None, "country": None}
    assert body[-3]["city"] == 'Say "cheese"' and body[-3]["country"] == "tab\there\nnewline\u0001"
    assert body[-3]["lat"] == 48.85661400000001  # every digit of the double
    assert body[0]["lat"] == 90 and body[1]["lat"] == 1e-05
    # compact, as Immich sends it, field order as the DTO's
    assert raw.startswith(b'[{"id":"') and b", " not in raw.replace(b'Say "cheese"', b"")
    assert list(body[0]) == ["id", "lat", "lon", "city", "state", "country"]


async def test_markers_empty(client: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    insert_asset(sql, me.id, local=datetime(2020, 1, 1), exif={"city": "Paris"})  # no GPS
    raw, body = await markers(client, me)
    assert raw == b"[]" and body == []


async def test_markers_asked_again_follow_commits(client: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    other = await make_user("other@example.com")
    first = insert_asset(sql, me.id, local=datetime(2020, 1, 1), exif={"latitude": 1.5, "longitude": 2.5})
    _, body = await markers(client, me)
    assert [m["id"] for m in body] == [first]
    _, again = await markers(client, me)
    assert again == body
    # another user's question with the same filters is theirs
    _, theirs = await markers(client, other)
    assert theirs == []
    # a commit (a new asset, a changed place) is seen by the next question
    second = insert_asset(sql, me.id, local=datetime(2021, 1, 1), exif={"latitude": 3.5, "longitude": 4.5})
    _, body = await markers(client, me)
    assert [m["id"] for m in body] == [second, first]
    sql('UPDATE asset_exif SET city = %s WHERE "assetId" = %s', ("Lyon", first))
    _, body = await markers(client, me)
    assert body[1]["city"] == "Lyon"
    # other filters are other questions
    _, favorites = await markers(client, me, isFavorite="true")
    assert favorites == []
