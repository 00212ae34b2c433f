"""GET /albums and GET /albums/{id} are answered again unchanged only while nothing has committed
(``sql.snapshot_cache``):
a change written by anyone (another process, psql, a job) shows in the next list, including one
that was in progress, uncommitted, while the list was being built."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import psycopg

from tests.http.test_album_list_json import MakeUser, Sql, _album, _asset

DAY = datetime(2024, 3, 1, 12, tzinfo=UTC)


async def _names(client: Any, user: Any) -> list[tuple[str, int]]:
    response = await client.get("/api/albums", headers=user.headers)
    assert response.status_code == 200
    return [(a["albumName"], a["assetCount"]) for a in await response.get_json()]


async def test_a_commit_from_anywhere_shows_in_the_next_list(
    client: Any, make_user: MakeUser, sql: Sql, db_url: str
) -> None:
    me = await make_user()
    album = _album(sql, me.id, "Before", DAY)
    assert await _names(client, me) == [("Before", 0)]
    assert await _names(client, me) == [("Before", 0)]

    sql('UPDATE album SET "albumName" = %s WHERE id = %s', ("After", album))
    assert await _names(client, me) == [("After", 0)]

    asset = _asset(sql, me.id, DAY)
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, asset))
    assert await _names(client, me) == [("After", 1)]

    sql("UPDATE asset SET \"deletedAt\" = now(), status = 'trashed' WHERE id = %s", (asset,))
    assert await _names(client, me) == [("After", 0)]


async def test_a_write_in_progress_during_the_list_shows_once_committed(
    client: Any, make_user: MakeUser, sql: Sql, db_url: str
) -> None:
    me = await make_user()
    album = _album(sql, me.id, "Before", DAY)
    written, release = threading.Event(), threading.Event()

    def writer() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute('UPDATE album SET "albumName" = %s WHERE id = %s', ("After", album))
            written.set()
            release.wait(10)
            conn.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(10)
        assert await _names(client, me) == [("Before", 0)]  # not committed yet
    finally:
        release.set()
        thread.join(10)
    assert await _names(client, me) == [("After", 0)]


async def test_each_user_and_filter_has_its_own_answer(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user()
    other = await make_user("other@example.com")
    _album(sql, me.id, "Mine", DAY)
    _album(sql, other.id, "Theirs", DAY)
    assert await _names(client, me) == [("Mine", 0)]
    assert await _names(client, other) == [("Theirs", 0)]
    response = await client.get("/api/albums?isShared=true", headers=me.headers)
    assert await response.get_json() == []
    assert await _names(client, me) == [("Mine", 0)]


async def test_a_cover_fixed_by_the_list_is_answered_next_time(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user()
    first = _asset(sql, me.id, DAY)
    album = _album(sql, me.id, "Covered", DAY)
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, first))
    for _ in range(2):
        response = await client.get("/api/albums", headers=me.headers)
        assert [a["albumThumbnailAssetId"] for a in await response.get_json()] == [first]


async def test_one_album_changes_and_access_show_at_once(client: Any, make_user: MakeUser, sql: Sql) -> None:
    me = await make_user()
    friend = await make_user("friend@example.com")
    album = _album(sql, me.id, "Trip", DAY)
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, \'viewer\')', (album, friend.id))

    async def info(user: Any) -> tuple[int, Any]:
        response = await client.get(f"/api/albums/{album}", headers=user.headers)
        return response.status_code, await response.get_json()

    for _ in range(2):
        status, body = await info(me)
        assert status == 200 and (body["albumName"], body["assetCount"]) == ("Trip", 0)
    status, body = await info(friend)
    assert status == 200 and body["albumName"] == "Trip"

    asset = _asset(sql, me.id, DAY)
    sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, asset))
    status, body = await info(me)
    assert body["assetCount"] == 1 and body["albumThumbnailAssetId"] == asset

    sql('DELETE FROM album_user WHERE "albumId" = %s AND "userId" = %s', (album, friend.id))
    status, body = await info(friend)
    assert status == 400 and body["message"] == "Not found or no album.read access"
