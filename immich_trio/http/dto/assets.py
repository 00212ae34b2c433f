"""Assets (tag "Assets"): ``asset_dto``, the one builder of ``AssetResponseDto``, the builders of
what it embeds, and Immich's key order for them.

Rows are dicts keyed by the ``asset`` table's column names. Objects that Immich aggregates to
JSON inside SQL (``exifInfo``, ``owner``, ``tags``, ``people``, ``stack``) arrive here already as
JSON (``json_build_object`` in ``sql/assets.py``), so their dates keep PostgreSQL's
``2024-01-15T10:30:00.123+00:00`` form (``SqlJsonDatetime``), as behaviour.md §6 requires;
top-level dates of the row itself are datetimes and come out as ``…Z``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http import media_types
from immich_trio.http.dto import OMIT, SqlJsonDatetime, _Omit, key_order
from immich_trio.http.dto.generated import (
    AssetBulkUploadCheckResult,
    AssetMediaResponseDto,
    AssetResponseDto,
    AssetStackResponseDto,
    ExifResponseDto,
    PersonResponseDto,
    UserResponseDto,
)
from immich_trio.http.dto.tags import tag_dto
from immich_trio.http.dto.users import avatar_color

# Immich's class order, not the spec's
key_order(
    AssetResponseDto,
    "id",
    "created_at",
    "owner_id",
    "owner",
    "library_id",
    "type",
    "original_path",
    "original_file_name",
    "original_mime_type",
    "thumbhash",
    "file_created_at",
    "file_modified_at",
    "local_date_time",
    "updated_at",
    "is_favorite",
    "is_archived",
    "is_trashed",
    "visibility",
    "duration",
    "exif_info",
    "live_photo_video_id",
    "tags",
    "people",
    "checksum",
    "stack",
    "is_offline",
    "has_metadata",
    "duplicate_id",
    "resized",
    "width",
    "height",
    "is_edited",
)
# mapExif's order
key_order(
    ExifResponseDto,
    "make",
    "model",
    "exif_image_width",
    "exif_image_height",
    "file_size_in_byte",
    "orientation",
    "date_time_original",
    "modify_date",
    "time_zone",
    "lens_model",
    "f_number",
    "focal_length",
    "iso",
    "exposure_time",
    "latitude",
    "longitude",
    "city",
    "state",
    "country",
    "description",
    "projection_type",
    "rating",
)
# mapTag's order
key_order(AssetStackResponseDto, "id", "primary_asset_id", "asset_count")
key_order(AssetBulkUploadCheckResult, "id", "action", "reason", "asset_id", "is_trashed")


@attrs.frozen(kw_only=True)
class AssetMediaDuplicateDto(AssetMediaResponseDto):
    """``AssetMediaResponseDto`` for a duplicate: Immich builds this one status first."""


key_order(AssetMediaDuplicateDto, "status", "id")


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def _sql_date(value: str | None) -> SqlJsonDatetime | None:
    return SqlJsonDatetime.parse(value) if value is not None else None


def exif_dto(exif: Mapping[str, Any]) -> ExifResponseDto:
    """ExifResponseDto from an ``asset_exif`` JSON object (every key, ``fileSizeInByte`` a number)."""
    size = exif.get("fileSizeInByte")
    return ExifResponseDto(
        make=exif.get("make"),
        model=exif.get("model"),
        exif_image_width=exif.get("exifImageWidth"),
        exif_image_height=exif.get("exifImageHeight"),
        file_size_in_byte=int(size) if size is not None else None,
        orientation=exif.get("orientation"),
        date_time_original=_sql_date(exif.get("dateTimeOriginal")),
        modify_date=_sql_date(exif.get("modifyDate")),
        time_zone=exif.get("timeZone"),
        lens_model=exif.get("lensModel"),
        f_number=exif.get("fNumber"),
        focal_length=exif.get("focalLength"),
        iso=exif.get("iso"),
        exposure_time=exif.get("exposureTime"),
        latitude=exif.get("latitude"),
        longitude=exif.get("longitude"),
        city=exif.get("city"),
        state=exif.get("state"),
        country=exif.get("country"),
        description=exif.get("description"),
        projection_type=exif.get("projectionType"),
        rating=exif.get("rating"),
    )


def owner_dto(owner: Mapping[str, Any]) -> UserResponseDto:
    """The owner as embedded in an asset: loaded as JSON, so its date keeps PostgreSQL's form."""
    return UserResponseDto(
        id=UUID(str(owner["id"])),
        email=owner["email"],
        name=owner["name"],
        profile_image_path=owner["profileImagePath"],
        avatar_color=avatar_color(owner["email"], owner.get("avatarColor")),
        profile_changed_at=SqlJsonDatetime.parse(str(owner["profileChangedAt"])),
    )


def asset_dto(
    row: Mapping[str, Any],
    *,
    caller_id: UUID | str | None,
    exif: Mapping[str, Any] | _Omit | None = OMIT,
    owner: Mapping[str, Any] | _Omit | None = OMIT,
    tags: Sequence[Mapping[str, Any]] | _Omit | None = OMIT,
    people: Sequence[PersonResponseDto] = (),
    stack: Mapping[str, Any] | _Omit | None = OMIT,
) -> AssetResponseDto:
    """``AssetResponseDto`` from an ``asset`` row, as Immich's ``mapAsset`` builds it.

    Optional parts are left out unless given (``OMIT``); ``exif``/``owner``/``tags`` given as
    ``None`` are also left out (nothing loaded), ``stack=None`` is written as ``null`` (what
    ``GET /assets/{id}`` does for an unstacked asset). ``caller_id`` decides ``isFavorite``:
    true only for the owner (None: no caller, e.g. websocket events). Callers empty ``people``
    for non-owners.
    """
    is_owner = caller_id is not None and str(caller_id) == str(row["ownerId"])
    return AssetResponseDto(
        id=row["id"],
        created_at=row["createdAt"],
        owner_id=row["ownerId"],
        owner=owner_dto(owner) if owner is not None and owner is not OMIT else OMIT,
        library_id=row["libraryId"],
        type=row["type"],
        original_path=row["originalPath"],
        original_file_name=row["originalFileName"],
        original_mime_type=media_types.mime_type(row["originalFileName"]),
        thumbhash=b64(row["thumbhash"]),
        file_created_at=row["fileCreatedAt"],
        file_modified_at=row["fileModifiedAt"],
        local_date_time=row["localDateTime"],
        updated_at=row["updatedAt"],
        is_favorite=is_owner and bool(row["isFavorite"]),
        is_archived=row["visibility"] == "archive",
        is_trashed=row["deletedAt"] is not None,
        visibility=row["visibility"],
        duration=row["duration"],
        exif_info=exif_dto(exif) if exif is not None and exif is not OMIT else OMIT,
        live_photo_video_id=row["livePhotoVideoId"],
        tags=[tag_dto(t) for t in tags] if tags is not None and tags is not OMIT else OMIT,
        people=list(people),
        checksum=b64(row["checksum"]) or "",
        stack=_stack(stack),
        is_offline=row["isOffline"],
        has_metadata=True,
        duplicate_id=row["duplicateId"],
        resized=True,
        width=row["width"],
        height=row["height"],
        is_edited=row["isEdited"],
    )


def _stack(stack: Mapping[str, Any] | _Omit | None) -> AssetStackResponseDto | _Omit | None:
    if stack is OMIT or stack is None:
        return stack
    return AssetStackResponseDto(
        id=UUID(str(stack["id"])),
        primary_asset_id=UUID(str(stack["primaryAssetId"])),
        asset_count=int(stack["assetCount"]),
    )
