"""GET /api/timeline/buckets and /api/timeline/bucket against a real database (behaviour.md §8)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

Sql = Callable[..., list[tuple[Any, ...]]]


def insert_asset(
    sql: Sql,
    owner: str,
    *,
    local: datetime,
    file_created: datetime | None = None,
    created: datetime | None = None,
    type: str = "IMAGE",
    visibility: str = "timeline",
    favorite: bool = False,
    deleted_at: datetime | None = None,
    status: str = "active",
    width: int | None = 4000,
    height: int | None = 3000,
    thumbhash: bytes | None = None,
    duration: int | None = None,
    stack_id: str | None = None,
    exif: dict[str, Any] | None = None,
) -> str:
    """An asset row (and its exif row) straight in the database; ``local`` is wall-clock time."""
    file_created = file_created or local.replace(tzinfo=UTC)
    local_utc = local.replace(tzinfo=UTC)
    rows = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", "isFavorite",'
        ' visibility, "deletedAt", status, width, height, thumbhash, duration, "stackId", "createdAt")'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'sha1', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " coalesce(%s, now())) RETURNING id",
        (
            owner, type, "/nowhere/IMG.jpg", file_created, file_created, local_utc, os.urandom(20),
            "IMG.jpg", favorite, visibility, deleted_at, status, width, height, thumbhash,
            duration, stack_id, created,
        ),
    )
    asset_id = str(rows[0][0])
    values = {"city": None, "country": None, "latitude": None, "longitude": None} | (exif or {})
    cols = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join(["%s"] * len(values))
    sql(
        f'INSERT INTO asset_exif ("assetId", {cols}) VALUES (%s, {marks})',
        (asset_id, *values.values()),
    )
    return asset_id


async def buckets(client: Any, user: Any, **query: str) -> Any:
    response = await client.get("/api/timeline/buckets", headers=user.headers, query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def bucket(client: Any, user: Any, time_bucket: str, **query: str) -> Any:
    response = await client.get(
        "/api/timeline/bucket",
        headers=user.headers,
        query_string={"timeBucket": time_bucket, **query},
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return await response.get_json()


async def test_buckets_count_per_local_month_in_order(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    other = await make_user("other@example.com")
    insert_asset(sql, user.id, local=datetime(2024, 3, 5, 10))
    insert_asset(sql, user.id, local=datetime(2024, 3, 20, 10))
    insert_asset(sql, user.id, local=datetime(2024, 1, 1, 0, 0))
    # Taken at 01:30 on April 1st local time (+02:00): April, though March 31st in UTC.
    insert_asset(
        sql, user.id, local=datetime(2024, 4, 1, 1, 30),
        file_created=datetime(2024, 3, 31, 23, 30, tzinfo=UTC),
    )
    insert_asset(sql, other.id, local=datetime(2022, 6, 1, 12))

    assert await buckets(client, user) == [
        {"timeBucket": "2024-04-01", "count": 1},
        {"timeBucket": "2024-03-01", "count": 2},
        {"timeBucket": "2024-01-01", "count": 1},
    ]
    assert [b["timeBucket"] for b in await buckets(client, user, order="asc")] == [
        "2024-01-01", "2024-03-01", "2024-04-01",
    ]
    assert await buckets(client, other) == [{"timeBucket": "2022-06-01", "count": 1}]


async def test_buckets_by_created_at(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    insert_asset(sql, user.id, local=datetime(2010, 3, 5), created=datetime(2024, 7, 1, tzinfo=UTC))
    assert await buckets(client, user, orderBy="createdAt") == [{"timeBucket": "2024-07-01", "count": 1}]
    body = await bucket(client, user, "2024-07-01", orderBy="createdAt")
    assert len(body["id"]) == 1


async def test_visibility_trash_and_favorite_filters(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    day = datetime(2024, 5, 10, 12)
    normal = insert_asset(sql, user.id, local=day)
    fav = insert_asset(sql, user.id, local=day, favorite=True)
    archived = insert_asset(sql, user.id, local=day, visibility="archive")
    insert_asset(sql, user.id, local=day, visibility="hidden")
    insert_asset(sql, user.id, local=day, visibility="locked")
    trashed = insert_asset(sql, user.id, local=day, deleted_at=datetime.now(UTC), status="trashed")
    insert_asset(sql, user.id, local=day, deleted_at=datetime.now(UTC), status="deleted")

    async def ids(**query: str) -> set[str]:
        return set((await bucket(client, user, "2024-05-01", **query))["id"])

    assert await ids() == {normal, fav, archived}
    assert await buckets(client, user) == [{"timeBucket": "2024-05-01", "count": 3}]
    assert await ids(visibility="timeline") == {normal, fav}
    assert await ids(visibility="archive") == {archived}
    assert await ids(isTrashed="true") == {trashed}
    assert await buckets(client, user, isTrashed="true") == [{"timeBucket": "2024-05-01", "count": 1}]
    assert await ids(isFavorite="true") == {fav}
    assert await ids(isFavorite="false") == {normal, archived}


async def test_bucket_arrays_exact_values(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    thumbhash = bytes(range(25))
    taken = datetime(2024, 3, 5, 10, 20, 30, 123456, tzinfo=UTC)
    plus_0530 = timezone(timedelta(hours=5, minutes=30))
    first = insert_asset(
        sql, user.id, local=taken.astimezone(plus_0530).replace(tzinfo=None), file_created=taken,
        created=datetime(2024, 3, 6, tzinfo=UTC), favorite=True, thumbhash=thumbhash,
        exif={"city": "Pune", "country": "India", "latitude": 18.52, "longitude": 73.85,
              "projectionType": "EQUIRECTANGULAR"},
    )
    second = insert_asset(
        sql, user.id, local=datetime(2024, 3, 1, 8), type="VIDEO", width=None, height=None,
        duration=1500, created=datetime(2024, 3, 6, 1, 2, 3, 500000, tzinfo=UTC),
    )
    body = await bucket(client, user, "2024-03-01")
    assert body == {
        "duration": [None, 1500],
        "id": [first, second],
        "visibility": ["timeline", "timeline"],
        "isFavorite": [True, False],
        "isImage": [True, False],
        "isTrashed": [False, False],
        "livePhotoVideoId": [None, None],
        "fileCreatedAt": ["2024-03-05T10:20:30.123456", "2024-03-01T08:00:00"],
        "localOffsetHours": [5.5, 0],
        "createdAt": ["2024-03-06T00:00:00", "2024-03-06T01:02:03.5"],
        "ownerId": [user.id, user.id],
        "projectionType": ["EQUIRECTANGULAR", None],
        "ratio": [1.333, 1],
        "status": ["active", "active"],
        "thumbhash": [base64.b64encode(thumbhash).decode(), None],
        "city": ["Pune", None],
        "country": ["India", None],
    }
    asc = await bucket(client, user, "2024-03-01", order="asc")
    assert asc["id"] == [second, first]
    coords = await bucket(client, user, "2024-03-01", withCoordinates="true")
    assert coords["latitude"] == [18.52, None]
    assert coords["longitude"] == [73.85, None]
    assert "stack" not in coords


async def test_empty_bucket_has_empty_arrays(client: Any, make_user: Any) -> None:
    user = await make_user()
    body = await bucket(client, user, "2020-01-01", withCoordinates="true", withStacked="true")
    assert body["id"] == [] and body["latitude"] == [] and body["stack"] == []
    assert all(value == [] for value in body.values())
    assert await buckets(client, user) == []


async def test_with_stacked_shows_primaries_and_counts(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    day = datetime(2024, 8, 1, 9)
    primary = insert_asset(sql, user.id, local=day)
    child = insert_asset(sql, user.id, local=day - timedelta(minutes=1))
    lone = insert_asset(sql, user.id, local=day - timedelta(hours=1))
    stack_id = str(sql(
        'INSERT INTO stack ("primaryAssetId", "ownerId") VALUES (%s, %s) RETURNING id', (primary, user.id)
    )[0][0])
    sql('UPDATE asset SET "stackId" = %s WHERE id IN (%s, %s)', (stack_id, primary, child))

    body = await bucket(client, user, "2024-08-01", withStacked="true")
    assert body["id"] == [primary, lone]
    assert body["stack"] == [[stack_id, "2"], None]
    assert await buckets(client, user, withStacked="true") == [{"timeBucket": "2024-08-01", "count": 2}]
    assert len((await bucket(client, user, "2024-08-01"))["id"]) == 3


async def test_bbox_filter(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    day = datetime(2024, 9, 1, 9)
    inside = insert_asset(sql, user.id, local=day, exif={"latitude": 49.43, "longitude": 11.1})
    insert_asset(sql, user.id, local=day, exif={"latitude": 48.1, "longitude": 11.5})
    insert_asset(sql, user.id, local=day)
    box = "11.075683,49.416711,11.117589,49.454875"
    assert (await bucket(client, user, "2024-09-01", bbox=box))["id"] == [inside]
    assert await buckets(client, user, bbox=box) == [{"timeBucket": "2024-09-01", "count": 1}]
    response = await client.get(
        "/api/timeline/buckets", headers=user.headers, query_string={"bbox": "1,2,3"}
    )
    assert response.status_code == 400


async def error(client: Any, user: Any, path: str, **query: str) -> tuple[int, str]:
    response = await client.get(f"/api/timeline/{path}", headers=user.headers, query_string=query)
    return response.status_code, (await response.get_json())["message"]


async def test_unsupported_filters_are_refused(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    some_id = "6f1c2d9e-8a7b-4c3d-9e8f-1a2b3c4d5e6f"
    [(album,)] = sql("INSERT INTO album DEFAULT VALUES RETURNING id")
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album, user.id, "owner"))
    [(tag,)] = sql('INSERT INTO tag ("userId", value) VALUES (%s, %s) RETURNING id', (user.id, "t"))
    [(person,)] = sql('INSERT INTO person ("ownerId") VALUES (%s) RETURNING id', (user.id,))
    for name, own, permission in (
        ("albumId", album, "album.read"), ("personId", person, "person.read"), ("tagId", tag, "tag.read"),
    ):
        # Someone else's (or no) row: Immich's access answer comes first.
        assert await error(client, user, "buckets", **{name: some_id}) == (
            400, f"Not found or no {permission} access",
        )
        # built: the album's, person's or tag's (empty) timeline
        assert await buckets(client, user, **{name: str(own)}) == []
    partners = "withPartners is only supported for non-archived, non-trashed, non-favorited, non-locked assets"
    assert await error(client, user, "buckets", withPartners="true") == (400, partners)
    assert await error(
        client, user, "buckets", withPartners="true", visibility="timeline", isFavorite="false"
    ) == (400, partners)
    assert await error(
        client, user, "bucket", timeBucket="2024-01-01", withPartners="true",
        visibility="timeline", isTrashed="true",
    ) == (400, partners)


async def test_other_users_and_partners(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    partner = await make_user("partner@example.com")
    stranger = await make_user("stranger@example.com")
    day = datetime(2024, 2, 2, 2)
    mine = insert_asset(sql, user.id, local=day)
    theirs = insert_asset(sql, partner.id, local=day, favorite=True)
    insert_asset(sql, stranger.id, local=day)

    no_access = (400, "Not found or no timeline.read access")
    assert await error(client, user, "buckets", userId=partner.id) == no_access
    assert await error(client, user, "bucket", timeBucket="2024-02-01", userId=stranger.id) == no_access

    sql('INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, true)',
        (partner.id, user.id))
    body = await bucket(client, user, "2024-02-01", userId=partner.id, visibility="timeline")
    assert body["id"] == [theirs]
    assert body["isFavorite"] == [False]  # favourites are the caller's own only
    assert await error(client, user, "buckets", userId=partner.id, visibility="archive") == (
        400, "Not found or no archive.read access",
    )
    merged = await bucket(client, user, "2024-02-01", withPartners="true", visibility="timeline")
    assert set(merged["id"]) == {mine, theirs}
    assert (await bucket(client, user, "2024-02-01"))["id"] == [mine]


async def test_locked_timeline_needs_elevation(client: Any, make_user: Any, sql: Sql) -> None:
    user = await make_user()
    partner = await make_user("partner@example.com")
    locked = insert_asset(sql, user.id, local=datetime(2024, 6, 6), visibility="locked")
    assert await error(client, user, "buckets", visibility="locked") == (
        401, "Elevated permission is required",
    )
    sql('UPDATE session SET "pinExpiresAt" = now() + interval \'5 minutes\' WHERE "userId" = %s',
        (user.id,))
    assert (await bucket(client, user, "2024-06-01", visibility="locked"))["id"] == [locked]
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (partner.id, user.id))
    assert await error(client, user, "buckets", visibility="locked", userId=partner.id) == (
        400, "You may not access another user's locked timeline",
    )
