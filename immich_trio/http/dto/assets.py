"""Asset DTOs (tag "Assets") and ``asset_dto``, the one builder of ``AssetResponseDto``.

Rows are dicts keyed by the ``asset`` table's column names. Objects that Immich aggregates to
JSON inside SQL (``exifInfo``, ``owner``, ``tags``, ``people``, ``stack``) arrive here already as
JSON (``json_build_object`` in ``sql/assets.py``), so their dates keep PostgreSQL's
``2024-01-15T10:30:00.123+00:00`` form, as behaviour.md §6 requires; top-level dates of the row
itself are datetimes and come out as ``…Z``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http import media_types
from immich_trio.http.dto import OMIT, _Omit
from immich_trio.http.dto.users import avatar_color

# Keys of ExifResponseDto in Immich's order (mapExif).
EXIF_KEYS = (
    "make",
    "model",
    "exifImageWidth",
    "exifImageHeight",
    "fileSizeInByte",
    "orientation",
    "dateTimeOriginal",
    "modifyDate",
    "timeZone",
    "lensModel",
    "fNumber",
    "focalLength",
    "iso",
    "exposureTime",
    "latitude",
    "longitude",
    "city",
    "state",
    "country",
    "description",
    "projectionType",
    "rating",
)


@attrs.frozen(kw_only=True)
class AssetMediaResponseDto:
    """Answer of ``POST /assets`` for a new asset (``status`` ``created``)."""

    id: UUID
    status: str = "created"


@attrs.frozen(kw_only=True)
class AssetMediaDuplicateDto:
    """``AssetMediaResponseDto`` for a duplicate: Immich builds this one status first."""

    status: str = "duplicate"
    id: UUID


@attrs.frozen(kw_only=True)
class AssetBulkUploadCheckItem:
    id: str
    checksum: str


@attrs.frozen(kw_only=True)
class AssetBulkUploadCheckDto:
    assets: list[AssetBulkUploadCheckItem]


@attrs.frozen(kw_only=True)
class AssetBulkUploadCheckResult:
    id: str
    action: str
    reason: str | _Omit = OMIT
    asset_id: UUID | _Omit = OMIT
    is_trashed: bool | _Omit = OMIT


@attrs.frozen(kw_only=True)
class AssetBulkUploadCheckResponseDto:
    results: list[AssetBulkUploadCheckResult]


@attrs.frozen(kw_only=True)
class AssetOwnerDto:
    """``UserResponseDto`` as embedded in an asset: loaded as JSON, so the date is a string."""

    id: str
    email: str
    name: str
    profile_image_path: str
    avatar_color: str
    profile_changed_at: str


@attrs.frozen(kw_only=True)
class AssetStackResponseDto:
    id: str
    primary_asset_id: str
    asset_count: int


@attrs.frozen(kw_only=True)
class AssetResponseDto:
    id: UUID
    created_at: datetime
    owner_id: UUID
    owner: AssetOwnerDto | _Omit = OMIT
    library_id: UUID | None
    type: str
    original_path: str
    original_file_name: str
    original_mime_type: str
    thumbhash: str | None
    file_created_at: datetime
    file_modified_at: datetime
    local_date_time: datetime
    updated_at: datetime
    is_favorite: bool
    is_archived: bool
    is_trashed: bool
    visibility: str
    duration: int | None
    exif_info: dict[str, Any] | _Omit = OMIT
    live_photo_video_id: UUID | None
    tags: list[dict[str, Any]] | _Omit = OMIT
    people: list[dict[str, Any]]
    checksum: str
    stack: AssetStackResponseDto | _Omit | None = OMIT
    is_offline: bool
    has_metadata: bool = True
    duplicate_id: UUID | None
    resized: bool = True
    width: int | None
    height: int | None
    is_edited: bool


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def exif_dto(exif: Mapping[str, Any]) -> dict[str, Any]:
    """ExifResponseDto from an ``asset_exif`` JSON object (``fileSizeInByte`` as a number)."""
    out = {key: exif.get(key) for key in EXIF_KEYS}
    if out["fileSizeInByte"] is not None:
        out["fileSizeInByte"] = int(out["fileSizeInByte"])
    return out


def owner_dto(owner: Mapping[str, Any]) -> AssetOwnerDto:
    return AssetOwnerDto(
        id=str(owner["id"]),
        email=owner["email"],
        name=owner["name"],
        profile_image_path=owner["profileImagePath"],
        avatar_color=avatar_color(owner["email"], owner.get("avatarColor")),
        profile_changed_at=str(owner["profileChangedAt"]),
    )


def tag_dto(tag: Mapping[str, Any]) -> dict[str, Any]:
    """TagResponseDto (mapTag): optional ``parentId``/``color`` left out when null."""
    out: dict[str, Any] = {"id": tag["id"]}
    if tag.get("parentId") is not None:
        out["parentId"] = tag["parentId"]
    out["name"] = str(tag["value"]).split("/")[-1]
    out["value"] = tag["value"]
    out["createdAt"] = tag["createdAt"]
    out["updatedAt"] = tag["updatedAt"]
    if tag.get("color") is not None:
        out["color"] = tag["color"]
    return out


def asset_dto(
    row: Mapping[str, Any],
    *,
    caller_id: UUID | str | None,
    exif: Mapping[str, Any] | _Omit | None = OMIT,
    owner: Mapping[str, Any] | _Omit | None = OMIT,
    tags: Sequence[Mapping[str, Any]] | _Omit | None = OMIT,
    people: Sequence[Mapping[str, Any]] = (),
    stack: Mapping[str, Any] | _Omit | None = OMIT,
) -> AssetResponseDto:
    """``AssetResponseDto`` from an ``asset`` row, as Immich's ``mapAsset`` builds it.

    Optional parts are left out unless given (``OMIT``); ``exif``/``owner``/``tags`` given as
    ``None`` are also left out (nothing loaded), ``stack=None`` is written as ``null`` (what
    ``GET /assets/{id}`` does for an unstacked asset). ``caller_id`` decides ``isFavorite``:
    true only for the owner (None: no caller, e.g. websocket events). ``people`` are the
    already-shaped PersonResponseDto objects; callers empty it for non-owners.
    """
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
        is_favorite=caller_id is not None and str(caller_id) == str(row["ownerId"]) and bool(row["isFavorite"]),
        is_archived=row["visibility"] == "archive",
        is_trashed=row["deletedAt"] is not None,
        visibility=row["visibility"],
        duration=row["duration"],
        exif_info=exif_dto(exif) if exif is not None and exif is not OMIT else OMIT,
        live_photo_video_id=row["livePhotoVideoId"],
        tags=[tag_dto(t) for t in tags] if tags is not None and tags is not OMIT else OMIT,
        people=[dict(p) for p in people],
        checksum=b64(row["checksum"]) or "",
        stack=_stack(stack),
        is_offline=row["isOffline"],
        duplicate_id=row["duplicateId"],
        width=row["width"],
        height=row["height"],
        is_edited=row["isEdited"],
    )


def _stack(stack: Mapping[str, Any] | _Omit | None) -> AssetStackResponseDto | _Omit | None:
    if stack is OMIT or stack is None:
        return stack
    return AssetStackResponseDto(
        id=str(stack["id"]), primary_asset_id=str(stack["primaryAssetId"]), asset_count=int(stack["assetCount"])
    )
