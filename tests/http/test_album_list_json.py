"""GET /albums is built as JSON in PostgreSQL (``MINE_JSON``): the bytes must be those the DTO
path (``MINE`` rows through ``album_dto`` and the converter) writes for the same rows, for every
filter, with awkward strings, dates with microseconds, members without an avatar colour,
trashed and hidden assets, empty albums and shared links."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from immich_trio.http.dto import dumps
from immich_trio.http.dto.albums import album_dto
from immich_trio.http.dto.users import AVATAR_COLORS
from immich_trio.runtime import Runtime
from immich_trio.sql.albums import read as q

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]

ODD = 'Ünïcödé "quoted" \\ back\nslash\ttab \x01 </script> 😀'


def _asset(sql: Sql, owner: str, when: datetime, *, visibility: str = "timeline", deleted: bool = False) -> str:
    asset_id = str(uuid.uuid4())
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "deletedAt",'
        ' status, visibility) VALUES (%s, %s, \'IMAGE\', %s, \'a.jpg\', %s, \'sha1\', %s, %s, %s, %s, %s, %s)',
        (asset_id, owner, f"/nowhere/{asset_id}.jpg", uuid.uuid4().bytes[:20], when, when, when,
         when if deleted else None, "trashed" if deleted else "active", visibility),
    )
    return asset_id


def _album(sql: Sql, owner: str, name: str, created: datetime, *, description: str = "",
           cover: str | None = None, activity: bool = True, order: str = "desc") -> str:
    album_id = str(uuid.uuid4())
    sql('INSERT INTO album (id, "albumName", description, "albumThumbnailAssetId", "createdAt",'
        ' "updatedAt", "isActivityEnabled", "order") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
        (album_id, name, description, cover, created, created, activity, order))
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, \'owner\')', (album_id, owner))
    return album_id


@pytest.fixture
async def world(make_user: MakeUser, sql: Sql) -> dict[str, Any]:
    me = await make_user("zoë+albums@example.com", name=ODD)
    friend = await make_user("friend@example.com", name="Friend")
    viewer = await make_user("viewer@example.com", name="Aaron")
    sql('UPDATE "user" SET "avatarColor" = \'amber\', "profileImagePath" = %s,'
        ' "profileChangedAt" = %s WHERE id = %s',
        ("/p/x.jpg", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), friend.id))
    sql('UPDATE "user" SET "avatarColor" = NULL WHERE id IN (%s, %s)', (me.id, viewer.id))
    t = datetime(2023, 3, 4, 5, 6, 7, 999999, tzinfo=UTC)
    a = [_asset(sql, me.id, datetime(2020 + i, 1 + i, 2, 23, 59, 59, 500000, tzinfo=UTC)) for i in range(4)]
    hidden = _asset(sql, me.id, datetime(2010, 1, 1, tzinfo=UTC), visibility="hidden")
    archived = _asset(sql, me.id, datetime(2030, 1, 1, tzinfo=UTC), visibility="archive")
    trashed = _asset(sql, me.id, datetime(2001, 1, 1, tzinfo=UTC), deleted=True)
    theirs = _asset(sql, friend.id, datetime(2019, 6, 1, tzinfo=UTC))
    sql('UPDATE asset SET "updatedAt" = %s WHERE id = %s', (t, a[0]))
    full = _album(sql, me.id, ODD, t, description=ODD, cover=a[0], order="asc")
    empty = _album(sql, me.id, "Empty", datetime(2021, 1, 1, tzinfo=UTC), activity=False)
    linked = _album(sql, me.id, "Linked", datetime(2022, 1, 1, 0, 0, 0, 1000, tzinfo=UTC))
    shared = _album(sql, me.id, "Shared", datetime(2022, 2, 1, tzinfo=UTC), cover=a[1])
    only_hidden = _album(sql, me.id, "Hidden", datetime(2022, 3, 1, tzinfo=UTC))
    from_friend = _album(sql, friend.id, "From friend", datetime(2022, 4, 1, tzinfo=UTC), cover=theirs)
    _album(sql, friend.id, "Not mine", datetime(2022, 5, 1, tzinfo=UTC))
    links = [(full, x) for x in (*a, hidden, archived, trashed)] + [(linked, a[2]), (shared, a[3]),
             (shared, theirs), (only_hidden, hidden), (from_friend, theirs)]
    for album_id, asset_id in links:
        sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album_id, asset_id))
    for album_id, user, role in ((shared, friend.id, "editor"), (shared, viewer.id, "viewer"),
                                 (from_friend, me.id, "viewer"), (from_friend, viewer.id, "editor")):
        sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album_id, user, role))
    sql('INSERT INTO shared_link (id, "userId", key, type, "albumId") VALUES (%s, %s, %s, \'ALBUM\', %s)',
        (str(uuid.uuid4()), me.id, b"k" * 50, linked))
    return {"me": me, "friend": friend, "ids": {"full": full, "empty": empty, "linked": linked}}


FILTERS = [(owned, shared) for owned in (None, True, False) for shared in (None, True, False)]


@pytest.mark.parametrize(("owned", "shared"), FILTERS)
async def test_list_json_is_the_dto_path(runtime: Runtime, world: dict[str, Any], owned: bool | None,
                                         shared: bool | None) -> None:
    for who in (world["me"], world["friend"]):
        for album_id, name in ((None, None), (world["ids"]["full"], None), (None, ODD)):
            async with runtime.pool.connection() as conn:
                rows = await q.my_albums(conn, who.id, owned=owned, shared=shared, album_id=album_id, name=name)
                _, got = await q.my_albums_json(conn, who.id, owned=owned, shared=shared, album_id=album_id,
                                             name=name, palette=AVATAR_COLORS)
            assert got == dumps([album_dto(r) for r in rows])


async def test_list_over_http_answers_every_filter(client: Any, world: dict[str, Any]) -> None:
    me = world["me"]
    seen = {}
    for query in ("", "?isOwned=true", "?isOwned=false", "?isShared=true", "?isShared=false"):
        r = await client.get(f"/api/albums{query}", headers=me.headers)
        assert r.status_code == 200
        seen[query] = [a["albumName"] for a in await r.get_json()]
    assert seen[""] == [ODD, "From friend", "Hidden", "Shared", "Linked", "Empty"]
    assert seen["?isOwned=true"] == [ODD, "Hidden", "Shared", "Linked", "Empty"]
    assert seen["?isOwned=false"] == ["From friend"]
    assert seen["?isShared=true"] == ["From friend", "Shared", "Linked"]
    assert seen["?isShared=false"] == [ODD, "Hidden", "Empty"]
