"""Bad input on the sharing routes (albums, shared links, activities, partners, download,
notifications): malformed ids get Immich's zod-4 validation answer, unknown ids its refusal,
duplicate ids its per-id ``duplicate``, and huge id lists (10,000) are answered in a bounded
number of SQL statements, the same as for ten ids. A refused request leaves every row unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tests.http.conftest import MakeUser
from tests.http.test_albums import D1, Sql, insert_asset

HUGE = 10_000
MALFORMED = "not-a-uuid"
INVALID_UUID = {"origin": "string", "code": "invalid_format", "format": "uuid", "message": "Invalid UUID"}


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatementCounter]:
    """Counts every statement the server sends (``AsyncCursor.execute``, which
    ``AsyncConnection.execute`` goes through)."""
    counter = StatementCounter()
    original = psycopg.AsyncCursor.execute

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter.count += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting)
    yield counter


def insert_many(sql: Sql, owner: str, count: int) -> list[str]:
    """``count`` photos of ``owner`` in one statement."""
    rows = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",'
        ' "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " SELECT %s, 'IMAGE', '/nowhere/' || i || '.jpg', i || '.jpg', sha256(convert_to(%s || i, 'UTF8')),"
        " 'sha1', %s, %s, %s FROM generate_series(1, %s) AS i RETURNING id",
        (owner, owner, D1, D1, D1, count),
    )
    ids = [str(r[0]) for r in rows]
    sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") SELECT id, 1000 FROM asset WHERE "ownerId" = %s',
        (owner,))
    return ids


def with_size(sql: Sql, owner: str) -> str:
    """A photo whose size download info knows (Immich reads it from asset_exif)."""
    asset_id = insert_asset(sql, owner, D1)
    sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, 1000)', (asset_id,))
    return asset_id


def table(sql: Sql, name: str) -> list[tuple[Any, ...]]:
    return sql(f"SELECT * FROM {name} ORDER BY 1, 2")


async def _call(client: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    response = await client.open(path, method=method, headers=headers, json=body)
    return response.status_code, await response.get_json(silent=True)


async def _counted(statements: StatementCounter, call: Callable[[], Any]) -> tuple[int, tuple[int, Any]]:
    before = statements.count
    result = await call()
    return statements.count - before, result


async def _album(client: Any, user: Any, assets: list[str] | None = None) -> str:
    status, body = await _call(client, "POST", "/api/albums", user.headers,
                               {"albumName": "Trip", "assetIds": assets or []})
    assert status == 201, body
    return str(body["id"])


# -- malformed ids ------------------------------------------------------------------------------


async def test_malformed_ids_are_validation_errors(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    photo = insert_asset(sql, alex.id, D1)
    album = await _album(client, alex, [photo])
    before = [table(sql, t) for t in ("album_asset", "shared_link", "activity", "partner", "notification")]
    cases: list[tuple[str, str, Any, list[Any]]] = [
        ("GET", f"/api/albums/{MALFORMED}", None, ["id"]),
        ("PUT", f"/api/albums/{album}/assets", {"ids": [photo, MALFORMED]}, ["ids", 1]),
        ("DELETE", f"/api/albums/{album}/assets", {"ids": [MALFORMED]}, ["ids", 0]),
        ("PUT", "/api/albums/assets", {"albumIds": [album], "assetIds": [MALFORMED]}, ["assetIds", 0]),
        ("POST", "/api/shared-links", {"type": "INDIVIDUAL", "assetIds": [MALFORMED]}, ["assetIds", 0]),
        ("PUT", f"/api/shared-links/{MALFORMED}/assets", {"assetIds": [photo]}, ["id"]),
        ("GET", f"/api/activities?albumId={MALFORMED}", None, ["albumId"]),
        ("POST", "/api/activities", {"albumId": MALFORMED, "type": "like"}, ["albumId"]),
        ("DELETE", f"/api/activities/{MALFORMED}", None, ["id"]),
        ("POST", "/api/partners", {"sharedWithId": MALFORMED}, ["sharedWithId"]),
        ("DELETE", f"/api/partners/{MALFORMED}", None, ["id"]),
        ("POST", "/api/download/info", {"assetIds": [photo, MALFORMED]}, ["assetIds", 1]),
        ("POST", "/api/download/archive", {"assetIds": [MALFORMED]}, ["assetIds", 0]),
        ("PUT", "/api/notifications", {"ids": [MALFORMED], "readAt": None}, ["ids", 0]),
        ("GET", f"/api/notifications/{MALFORMED}", None, ["id"]),
    ]
    for method, path, body, where in cases:
        status, answer = await _call(client, method, path, alex.headers, body)
        assert status == 400 and answer["message"] == "Validation failed", (path, answer)
        issues = answer["errors"]
        assert len(issues) == 1 and issues[0]["path"] == where, (path, issues)
        assert {k: issues[0][k] for k in INVALID_UUID} == INVALID_UUID, (path, issues)
    assert [table(sql, t) for t in ("album_asset", "shared_link", "activity", "partner", "notification")] == before


# -- unknown ids --------------------------------------------------------------------------------


async def test_unknown_ids_get_immich_refusals(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    photo = insert_asset(sql, alex.id, D1)
    album = await _album(client, alex, [photo])
    unknown = str(uuid.uuid4())
    before = [table(sql, t) for t in ("album_asset", "shared_link", "activity", "partner", "notification")]
    cases: list[tuple[str, str, Any, str]] = [
        ("GET", f"/api/albums/{unknown}", None, "Not found or no album.read access"),
        ("DELETE", f"/api/albums/{unknown}/assets", {"ids": [photo]}, "Not found or no albumAsset.delete access"),
        ("PATCH", f"/api/albums/{unknown}", {"albumName": "x"}, "Not found or no album.update access"),
        ("PUT", f"/api/albums/{album}/user/{unknown}", {"role": "viewer"}, "Album not shared with user"),
        ("GET", f"/api/shared-links/{unknown}", None, "Shared link not found"),
        ("PUT", f"/api/shared-links/{unknown}/assets", {"assetIds": [photo]}, "Shared link not found"),
        ("DELETE", f"/api/shared-links/{unknown}", None, "Shared link not found"),
        ("POST", "/api/shared-links", {"type": "ALBUM", "albumId": unknown}, "Not found or no album.share access"),
        ("GET", f"/api/activities?albumId={unknown}", None, "Not found or no album.read access"),
        ("POST", "/api/activities", {"albumId": unknown, "type": "like"}, "Not found or no activity.create access"),
        ("DELETE", f"/api/activities/{unknown}", None, "Not found or no activity.delete access"),
        ("PUT", f"/api/partners/{unknown}", {"inTimeline": True}, "Not found or no partner.update access"),
        ("DELETE", f"/api/partners/{unknown}", None, "Partner not found"),
        ("POST", "/api/download/info", {"assetIds": [photo, unknown]}, "Not found or no asset.download access"),
        ("POST", "/api/download/info", {"albumId": unknown}, "Not found or no album.download access"),
        ("POST", "/api/download/archive", {"assetIds": [unknown]}, "Not found or no asset.download access"),
        ("PUT", "/api/notifications", {"ids": [unknown], "readAt": None}, "Not found or no notification.update access"),
        ("DELETE", "/api/notifications", {"ids": [unknown]}, "Not found or no notification.delete access"),
    ]
    for method, path, body, message in cases:
        assert await _call(client, method, path, alex.headers, body) == (400, {"message": message}), path
    assert [table(sql, t) for t in ("album_asset", "shared_link", "activity", "partner", "notification")] == before


# -- duplicate ids ------------------------------------------------------------------------------


async def test_duplicate_ids_in_one_request(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    a, b = with_size(sql, alex.id), with_size(sql, alex.id)
    album = await _album(client, alex)
    assert await _call(client, "PUT", f"/api/albums/{album}/assets", alex.headers, {"ids": [a, b, a, b]}) == (200, [
        {"id": a, "success": True}, {"id": b, "success": True},
        {"id": a, "success": False, "error": "duplicate"}, {"id": b, "success": False, "error": "duplicate"}])
    assert sql('SELECT count(*) FROM album_asset WHERE "albumId" = %s', (album,)) == [(2,)]
    # many albums: the same album twice adds once
    other = await _album(client, alex)
    status, body = await _call(client, "PUT", "/api/albums/assets", alex.headers,
                               {"albumIds": [other, other], "assetIds": [a, a]})
    assert (status, body) == (200, {"success": True})
    assert sql('SELECT "assetId"::text FROM album_asset WHERE "albumId" = %s', (other,)) == [(a,)]
    # download info counts each asset once
    status, body = await _call(client, "POST", "/api/download/info", alex.headers, {"assetIds": [a, a, b]})
    assert status == 201 and sorted(i for x in body["archives"] for i in x["assetIds"]) == sorted([a, b])
    # a shared link: an id asked twice is a duplicate the second time
    status, link = await _call(client, "POST", "/api/shared-links", alex.headers,
                               {"type": "INDIVIDUAL", "assetIds": [a, a]})
    assert status == 201 and [x["id"] for x in link["assets"]] == [a]
    assert await _call(client, "PUT", f"/api/shared-links/{link['id']}/assets", alex.headers,
                       {"assetIds": [b, b]}) == (200, [
        {"assetId": b, "success": True}, {"assetId": b, "success": False, "error": "duplicate"}])
    assert sql('SELECT count(*) FROM shared_link_asset') == [(2,)]


# -- huge id lists: Immich's answers in a bounded number of statements --------------------------


async def test_huge_id_lists_are_bounded(client: Any, make_user: MakeUser, sql: Sql,
                                         statements: StatementCounter) -> None:
    alex = await make_user("alex@example.com")
    many = insert_many(sql, alex.id, HUGE)
    few = many[:10]
    small_album, album = await _album(client, alex), await _album(client, alex)

    async def add(target: str, ids: list[str]) -> tuple[int, Any]:
        return await _call(client, "PUT", f"/api/albums/{target}/assets", alex.headers, {"ids": ids})

    async def remove(target: str, ids: list[str]) -> tuple[int, Any]:
        return await _call(client, "DELETE", f"/api/albums/{target}/assets", alex.headers, {"ids": ids})

    small_add, _ = await _counted(statements, lambda: add(small_album, few))
    huge_add, (status, body) = await _counted(statements, lambda: add(album, many))
    assert status == 200 and len(body) == HUGE and all(r["success"] for r in body)
    assert sql('SELECT count(*) FROM album_asset WHERE "albumId" = %s', (album,)) == [(HUGE,)]
    assert huge_add == small_add, (small_add, huge_add)
    # again: every id a duplicate, nothing written
    again, (status, body) = await _counted(statements, lambda: add(album, many))
    assert status == 200 and {r.get("error") for r in body} == {"duplicate"} and again <= huge_add

    small_remove, _ = await _counted(statements, lambda: remove(small_album, few))
    huge_remove, (status, body) = await _counted(statements, lambda: remove(album, many))
    assert status == 200 and len(body) == HUGE and all(r["success"] for r in body)
    assert sql('SELECT count(*) FROM album_asset WHERE "albumId" = %s', (album,)) == [(0,)]
    assert huge_remove == small_remove, (small_remove, huge_remove)

    async def info(ids: list[str]) -> tuple[int, Any]:
        return await _call(client, "POST", "/api/download/info", alex.headers, {"assetIds": ids})

    small_info, _ = await _counted(statements, lambda: info(few))
    huge_info, (status, body) = await _counted(statements, lambda: info(many))
    assert status == 201 and sum(len(x["assetIds"]) for x in body["archives"]) == HUGE
    assert huge_info == small_info, (small_info, huge_info)

    status, link = await _call(client, "POST", "/api/shared-links", alex.headers,
                               {"type": "INDIVIDUAL", "assetIds": [many[0]]})
    assert status == 201

    async def share(ids: list[str]) -> tuple[int, Any]:
        return await _call(client, "PUT", f"/api/shared-links/{link['id']}/assets", alex.headers, {"assetIds": ids})

    small_share, _ = await _counted(statements, lambda: share(many[1:11]))
    huge_share, (status, body) = await _counted(statements, lambda: share(many))
    assert status == 200 and len(body) == HUGE
    assert sum(r["success"] for r in body) == HUGE - 11
    assert sql('SELECT count(*) FROM shared_link_asset') == [(HUGE,)]
    assert huge_share == small_share, (small_share, huge_share)


async def test_huge_refused_lists_write_nothing(client: Any, make_user: MakeUser, sql: Sql,
                                                statements: StatementCounter) -> None:
    """10,000 ids of which one is another user's: refused whole, in as many statements as for one."""
    alex = await make_user("alex@example.com")
    vic = await make_user("vic@example.com")
    many = insert_many(sql, alex.id, HUGE)
    theirs = insert_asset(sql, vic.id, D1)
    album = await _album(client, vic, [theirs])
    before = [table(sql, t) for t in ("album_asset", "shared_link", "shared_link_asset")]

    one, refused_one = await _counted(statements, lambda: _call(
        client, "PUT", f"/api/albums/{album}/assets", alex.headers, {"ids": many[:1]}))
    huge, refused_huge = await _counted(statements, lambda: _call(
        client, "PUT", f"/api/albums/{album}/assets", alex.headers, {"ids": many}))
    assert refused_one == refused_huge == (400, {"message": "Not found or no albumAsset.create access"})
    assert huge == one

    one, refused_one = await _counted(statements, lambda: _call(
        client, "POST", "/api/download/info", alex.headers, {"assetIds": [theirs]}))
    huge, refused_huge = await _counted(statements, lambda: _call(
        client, "POST", "/api/download/info", alex.headers, {"assetIds": [*many, theirs]}))
    assert refused_one == refused_huge == (400, {"message": "Not found or no asset.download access"})
    assert huge == one

    # a link with one forbidden id among 10,000 is not created
    status, body = await _call(client, "POST", "/api/shared-links", alex.headers,
                               {"type": "INDIVIDUAL", "assetIds": [*many, theirs]})
    assert (status, body) == (400, {"message": "Not found or no asset.share access"})
    assert [table(sql, t) for t in ("album_asset", "shared_link", "shared_link_asset")] == before
