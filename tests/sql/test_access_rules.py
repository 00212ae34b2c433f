"""The access rules whose routes are not built yet, asked directly: album roles, shared-link
flags, live-photo parts, trashed rows, and the simple owner rules of the other tables."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest

from immich_trio.sql.access import USER_RULES, Principal, SharedLinkGrant, allowed_ids
from immich_trio.sql.pool import open_pool

Sql = Callable[..., list[tuple[Any, ...]]]
SPEC = Path(__file__).resolve().parents[2] / "immich_trio" / "http" / "openapi.json"


def test_every_rule_names_a_permission_of_the_spec() -> None:
    permissions = set(json.loads(SPEC.read_text())["components"]["schemas"]["Permission"]["enum"])
    assert set(USER_RULES) <= permissions


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Any]:
    async with open_pool(db_url) as pool, pool.connection() as connection:
        yield connection


def _user(sql: Sql, email: str) -> UUID:
    [(user_id,)] = sql('INSERT INTO "user" (email, name) VALUES (%s, %s) RETURNING id', (email, email))
    return UUID(str(user_id))


def _asset(sql: Sql, owner: UUID, **columns: Any) -> UUID:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",'
        ' checksum, "checksumAlgorithm", "originalFileName") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id',
        (owner, columns.get("type", "IMAGE"), "/x", when, when, when, os.urandom(20), "sha1", "x.jpg"),
    )
    for name, value in columns.items():
        if name != "type":
            sql(f'UPDATE asset SET "{name}" = %s WHERE id = %s', (value, asset_id))
    return UUID(str(asset_id))


async def test_album_roles_and_album_links(conn: Any, sql: Sql) -> None:
    owner, editor, viewer, stranger = (_user(sql, f"{n}@x.org") for n in ("o", "e", "v", "s"))
    [(album,)] = sql("INSERT INTO album DEFAULT VALUES RETURNING id")
    for user, role in ((owner, "owner"), (editor, "editor"), (viewer, "viewer")):
        sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album, user, role))
    video = _asset(sql, owner, type="VIDEO", visibility="hidden")
    still = _asset(sql, owner, livePhotoVideoId=video)
    trashed = _asset(sql, owner, deletedAt=datetime.now(UTC))
    for asset in (still, trashed):
        sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, asset))
    ids = {album}

    async def albums(who: UUID, permission: str) -> set[UUID]:
        return await allowed_ids(conn, Principal(user_id=who), permission, ids)

    assert await albums(viewer, "album.read") == ids and await albums(viewer, "albumAsset.create") == set()
    assert await albums(editor, "albumAsset.create") == ids and await albums(editor, "album.update") == set()
    assert await albums(owner, "album.delete") == ids and await albums(stranger, "album.read") == set()
    # A member sees the album's live assets and their video parts, not its trashed ones.
    assert await allowed_ids(conn, Principal(user_id=viewer), "asset.read", {still, video, trashed}) == {still, video}
    assert await allowed_ids(conn, Principal(user_id=viewer), "asset.update", {still}) == set()

    key = os.urandom(50)
    [(link,)] = sql(
        'INSERT INTO shared_link ("userId", key, type, "albumId", "allowUpload", "allowDownload", "showExif")'
        " VALUES (%s, %s, 'ALBUM', %s, false, false, true) RETURNING id",
        (owner, key, album),
    )
    grant = SharedLinkGrant(id=link, allow_upload=False, allow_download=False, show_metadata=True)
    holder = Principal(user_id=owner, shared_link=grant)
    assert await allowed_ids(conn, holder, "asset.view", {still, video, trashed}) == {still, video}
    assert await allowed_ids(conn, holder, "asset.download", {still}) == set()
    assert await allowed_ids(conn, holder, "album.read", ids) == ids
    assert await allowed_ids(conn, holder, "albumAsset.create", ids) == set()
    assert await allowed_ids(conn, holder, "asset.upload", {owner}) == set()
    # A link never acts as its owner on rules it does not name.
    assert await allowed_ids(conn, holder, "asset.update", {still}) == set()
    generous = Principal(user_id=owner, shared_link=attrs.evolve(grant, allow_upload=True, allow_download=True))
    assert await allowed_ids(conn, generous, "asset.download", {still}) == {still}
    assert await allowed_ids(conn, generous, "albumAsset.create", ids) == ids


async def test_partners_locked_assets_and_owner_rules(conn: Any, sql: Sql) -> None:
    me, friend, stranger = (_user(sql, f"{n}@x.org") for n in ("me", "friend", "s"))
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (friend, me))
    shown, archived, locked = (_asset(sql, friend, visibility=v) for v in ("timeline", "archive", "locked"))
    mine_locked = _asset(sql, me, visibility="locked")
    me_p, me_elevated = Principal(user_id=me), Principal(user_id=me, elevated=True)

    assert await allowed_ids(conn, me_p, "asset.read", {shown, archived, locked}) == {shown}
    assert await allowed_ids(conn, me_p, "asset.share", {shown}) == {shown}
    assert await allowed_ids(conn, me_p, "timeline.read", {me, friend, stranger}) == {me, friend}
    assert await allowed_ids(conn, me_p, "archive.read", {me, friend}) == {me}
    assert await allowed_ids(conn, me_p, "partner.update", {friend, stranger}) == {friend}
    assert await allowed_ids(conn, me_p, "asset.delete", {mine_locked}) == set()
    assert await allowed_ids(conn, me_elevated, "asset.delete", {mine_locked}) == {mine_locked}
    assert await allowed_ids(conn, me_elevated, "asset.share", {mine_locked}) == set()

    [(tag,)] = sql('INSERT INTO tag ("userId", value) VALUES (%s, %s) RETURNING id', (me, "t"))
    [(person,)] = sql('INSERT INTO person ("ownerId") VALUES (%s) RETURNING id', (me,))
    [(face,)] = sql('INSERT INTO asset_face ("assetId", "personId") VALUES (%s, %s) RETURNING id', (mine_locked, person))
    [(memory,)] = sql(
        """INSERT INTO memory ("ownerId", type, data, "memoryAt") VALUES (%s, 'on_this_day', '{}', now()) RETURNING id""",
        (me,),
    )
    [(stack,)] = sql('INSERT INTO stack ("ownerId", "primaryAssetId") VALUES (%s, %s) RETURNING id', (me, mine_locked))
    for permission, row in (
        ("tag.asset", tag), ("person.merge", person), ("face.delete", face), ("memory.read", memory),
        ("stack.update", stack),
    ):
        assert await allowed_ids(conn, me_p, permission, {row}) == {row}, permission
        assert await allowed_ids(conn, Principal(user_id=friend), permission, {row}) == set(), permission
    sql('UPDATE memory SET "deletedAt" = now() WHERE id = %s', (memory,))
    assert await allowed_ids(conn, me_p, "memory.read", {memory}) == set()
    # A permission without a rule grants nothing.
    assert await allowed_ids(conn, me_p, "sharedLink.update", {tag}) == set()
