"""Sync queries of albums the caller is a member of: albums, members, album-asset links, and
the assets and exif reached through them (backfill, updates, creates)."""

from __future__ import annotations

from immich_trio.sql.sync import shapes as s
from immich_trio.sql.sync.build import backfill, deletes, upserts

_MY_ALBUMS = 'SELECT "albumId" FROM album_user WHERE "userId" = %(me)s'
_MEMBER = 'JOIN album_user mu ON mu."albumId" = {0} AND mu."userId" = %(me)s'
_LINK_MEMBER = _MEMBER.format('aa."albumId"')

_ALBUM_SOURCE = f"album al {_MEMBER.format('al.id')}"
ALBUMS_V2 = upserts(_ALBUM_SOURCE, 'al."updateId"', s.album("al"), "true")
_OWNER = """(SELECT o."userId" FROM album_user o WHERE o."albumId" = al.id AND o.role = 'owner' LIMIT 1)"""
ALBUMS_V1 = upserts(
    _ALBUM_SOURCE,
    'al."updateId"',
    [*s.album("al")[:-2], ("ownerId", _OWNER), *s.album("al")[-2:]],
    "true",
)
ALBUM_DELETES = deletes("album_audit x", "x", s.col("x", "albumId"), 'x."userId" = %(me)s')

_USER_FIELDS = s.col("u", "albumId", "userId", "role")
ALBUM_USERS = upserts(
    "album_user u", 'u."updateId"', _USER_FIELDS, f'u."albumId" IN ({_MY_ALBUMS})'
)
ALBUM_USER_DELETES = deletes(
    "album_user_audit x", "x", s.col("x", "userId", "albumId"), f'x."albumId" IN ({_MY_ALBUMS})'
)
ALBUM_USER_BACKFILL = backfill(
    "album_user u", 'u."updateId"', _USER_FIELDS, 'u."albumId" = %(parent)s'
)

_LINK_FIELDS = s.col("aa", "assetId", "albumId")
_LINK = 'album_asset aa JOIN asset a ON a.id = aa."assetId"'
_MY_LINK = f"{_LINK} {_LINK_MEMBER}"
ALBUM_TO_ASSETS = upserts(_MY_LINK, 'aa."updateId"', _LINK_FIELDS, "true")
ALBUM_TO_ASSET_DELETES = deletes(
    "album_asset_audit x", "x", s.col("x", "assetId", "albumId"), f'x."albumId" IN ({_MY_ALBUMS})'
)
ALBUM_TO_ASSET_BACKFILL = backfill(
    _LINK, 'aa."updateId"', _LINK_FIELDS, 'aa."albumId" = %(parent)s'
)

# Assets through album links. Updates: asset rows changed, for links the client has
# (``aa.updateId <= %(created)s``); creates: new links, acked with the link's updateId.
ALBUM_ASSET_BACKFILL = backfill(
    _LINK, 'aa."updateId"', s.album_asset("a"), 'aa."albumId" = %(parent)s'
)
ALBUM_ASSET_UPDATES = upserts(
    _MY_LINK, 'a."updateId"', s.album_asset("a"), 'aa."updateId" <= %(created)s'
)
ALBUM_ASSET_CREATES = upserts(_MY_LINK, 'aa."updateId"', s.album_asset("a"), "true")

_EXIF_LINK = f'{_LINK} JOIN asset_exif e ON e."assetId" = aa."assetId"'
_MY_EXIF_LINK = f"{_EXIF_LINK} {_LINK_MEMBER}"
ALBUM_EXIF_BACKFILL = backfill(
    _EXIF_LINK, 'aa."updateId"', s.exif("e"), 'aa."albumId" = %(parent)s'
)
ALBUM_EXIF_UPDATES = upserts(
    _MY_EXIF_LINK, 'e."updateId"', s.exif("e"), 'aa."updateId" <= %(created)s'
)
ALBUM_EXIF_CREATES = upserts(_MY_EXIF_LINK, 'aa."updateId"', s.exif("e"), "true")
