"""The ``data`` objects of sync lines: Immich's key order and formats, built in SQL.

``obj(fields)`` is a scalar subquery giving compact JSON (``row_to_json``) of the given
``(key, expression)`` pairs in order; dates and bytea are pre-formatted as text.
"""

from __future__ import annotations

from collections.abc import Sequence

from immich_trio.sql.sync.stream import b64, day, ts

Fields = Sequence[tuple[str, str]]


def obj(fields: Fields) -> str:
    cols = ", ".join(f'{expr} AS "{key}"' for key, expr in fields)
    return f"(SELECT row_to_json(d) FROM (SELECT {cols}) d)::text"


def col(alias: str, *names: str) -> list[tuple[str, str]]:
    return [(name, f'{alias}."{name}"') for name in names]


def _asset_head(a: str) -> list[tuple[str, str]]:
    return [
        *col(a, "id", "ownerId", "originalFileName"),
        ("thumbhash", b64(f'{a}."thumbhash"')),
        ("checksum", b64(f'{a}."checksum"')),
        ("fileCreatedAt", ts(f'{a}."fileCreatedAt"')),
        ("fileModifiedAt", ts(f'{a}."fileModifiedAt"')),
    ]


_ASSET_TAIL = (
    "visibility",
    "duration",
    "livePhotoVideoId",
    "stackId",
    "libraryId",
    "width",
    "height",
    "isEdited",
)


def own_asset(a: str = "a") -> Fields:
    """SyncAssetV2 of the caller's own asset (columns.syncAsset)."""
    return [
        *_asset_head(a),
        ("createdAt", ts(f'{a}."createdAt"')),
        ("localDateTime", ts(f'{a}."localDateTime"')),
        *col(a, "type"),
        ("deletedAt", ts(f'{a}."deletedAt"')),
        *col(a, "isFavorite"),
        *col(a, *_ASSET_TAIL),
    ]


def partner_asset(a: str = "a") -> Fields:
    """SyncAssetV2 of a partner's asset (columns.syncPartnerAsset); never a favourite."""
    return [
        *_asset_head(a),
        ("localDateTime", ts(f'{a}."localDateTime"')),
        ("createdAt", ts(f'{a}."createdAt"')),
        *col(a, "type"),
        ("deletedAt", ts(f'{a}."deletedAt"')),
        *col(a, *_ASSET_TAIL),
        ("isFavorite", "false"),
    ]


def album_asset(a: str = "a") -> Fields:
    """SyncAssetV2 of an asset in an album (columns.syncAlbumAsset); favourite only if mine."""
    return [
        *_asset_head(a),
        ("createdAt", ts(f'{a}."createdAt"')),
        ("localDateTime", ts(f'{a}."localDateTime"')),
        *col(a, "type"),
        ("deletedAt", ts(f'{a}."deletedAt"')),
        *col(a, *_ASSET_TAIL),
        ("isFavorite", f'({a}."ownerId" = %(me)s AND {a}."isFavorite")'),
    ]


def exif(e: str = "e") -> Fields:
    """SyncAssetExifV1 (columns.syncAssetExif)."""
    return [
        *col(
            e,
            "assetId",
            "description",
            "exifImageWidth",
            "exifImageHeight",
            "fileSizeInByte",
            "orientation",
        ),
        ("dateTimeOriginal", ts(f'{e}."dateTimeOriginal"')),
        ("modifyDate", ts(f'{e}."modifyDate"')),
        *col(
            e,
            "timeZone",
            "latitude",
            "longitude",
            "projectionType",
            "city",
            "state",
            "country",
            "make",
            "model",
        ),
        *col(
            e,
            "lensModel",
            "fNumber",
            "focalLength",
            "iso",
            "exposureTime",
            "profileDescription",
            "rating",
            "fps",
        ),
    ]


def user(u: str = "u") -> list[tuple[str, str]]:
    """SyncUserV1 (columns.syncUser, with hasProfileImage for profileImagePath)."""
    return [
        *col(u, "id", "name", "email", "avatarColor"),
        ("deletedAt", ts(f'{u}."deletedAt"')),
        ("hasProfileImage", f"""({u}."profileImagePath" <> '')"""),
        ("profileChangedAt", ts(f'{u}."profileChangedAt"')),
    ]


def stack(s: str = "s") -> Fields:
    return [
        *col(s, "id"),
        ("createdAt", ts(f'{s}."createdAt"')),
        ("updatedAt", ts(f'{s}."updatedAt"')),
        *col(s, "primaryAssetId", "ownerId"),
    ]


def album(al: str = "al") -> list[tuple[str, str]]:
    return [
        *col(al, "id"),
        ("name", f'{al}."albumName"'),
        *col(al, "description"),
        ("createdAt", ts(f'{al}."createdAt"')),
        ("updatedAt", ts(f'{al}."updatedAt"')),
        ("thumbnailAssetId", f'{al}."albumThumbnailAssetId"'),
        *col(al, "isActivityEnabled", "order"),
    ]


def memory(m: str = "m") -> Fields:
    return [
        *col(m, "id"),
        ("createdAt", ts(f'{m}."createdAt"')),
        ("updatedAt", ts(f'{m}."updatedAt"')),
        ("deletedAt", ts(f'{m}."deletedAt"')),
        *col(m, "ownerId", "type", "data", "isSaved"),
        ("memoryAt", ts(f'{m}."memoryAt"')),
        ("seenAt", ts(f'{m}."seenAt"')),
        ("showAt", ts(f'{m}."showAt"')),
        ("hideAt", ts(f'{m}."hideAt"')),
    ]


def person(p: str = "p") -> Fields:
    return [
        *col(p, "id"),
        ("createdAt", ts(f'{p}."createdAt"')),
        ("updatedAt", ts(f'{p}."updatedAt"')),
        *col(p, "ownerId", "name"),
        ("birthDate", day(f'{p}."birthDate"')),
        *col(p, "isHidden", "isFavorite", "color", "faceAssetId"),
    ]


def face(f: str = "f") -> Fields:
    return [
        *col(f, "id", "assetId", "personId", "imageWidth", "imageHeight"),
        *col(
            f,
            "boundingBoxX1",
            "boundingBoxY1",
            "boundingBoxX2",
            "boundingBoxY2",
            "sourceType",
            "isVisible",
        ),
        ("deletedAt", ts(f'{f}."deletedAt"')),
    ]


def ocr(o: str = "o") -> Fields:
    return col(
        o,
        "id",
        "assetId",
        "x1",
        "y1",
        "x2",
        "y2",
        "x3",
        "y3",
        "x4",
        "y4",
        "text",
        "boxScore",
        "textScore",
        "isVisible",
    )


def edit(x: str = "x") -> Fields:
    return col(x, "id", "assetId", "sequence", "action", "parameters")
