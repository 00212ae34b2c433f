"""The payloads of ``AssetUploadReadyV2`` and ``AssetEditReadyV2``: the asset, its exif and its
edits as the sync stream shapes them.

Defined here until the sync stream (which shares these shapes) has its DTO module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from immich_trio.http.dto.assets import b64


@attrs.frozen(kw_only=True)
class SyncAssetV2:
    id: str
    owner_id: str
    original_file_name: str
    thumbhash: str | None
    checksum: str
    file_created_at: datetime
    file_modified_at: datetime
    local_date_time: datetime
    duration: int | None
    type: str
    deleted_at: datetime | None
    is_favorite: bool
    visibility: str
    live_photo_video_id: str | None
    stack_id: str | None
    library_id: str | None
    width: int | None
    height: int | None
    is_edited: bool
    created_at: datetime


@attrs.frozen(kw_only=True)
class SyncAssetExifV1:
    asset_id: str
    description: str | None
    exif_image_width: int | None
    exif_image_height: int | None
    file_size_in_byte: int | None
    orientation: str | None
    date_time_original: datetime | None
    modify_date: datetime | None
    time_zone: str | None
    latitude: float | None
    longitude: float | None
    projection_type: str | None
    city: str | None
    state: str | None
    country: str | None
    make: str | None
    model: str | None
    lens_model: str | None
    f_number: float | None
    focal_length: float | None
    iso: int | None
    exposure_time: str | None
    profile_description: str | None
    rating: int | None
    fps: float | None


@attrs.frozen(kw_only=True)
class SyncAssetEditV1:
    id: str
    asset_id: str
    sequence: int
    action: str
    parameters: dict[str, Any]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def sync_asset(row: dict[str, Any]) -> SyncAssetV2:
    return SyncAssetV2(
        id=str(row["id"]),
        owner_id=str(row["ownerId"]),
        original_file_name=row["originalFileName"],
        thumbhash=b64(row["thumbhash"]),
        checksum=b64(row["checksum"]) or "",
        file_created_at=row["fileCreatedAt"],
        file_modified_at=row["fileModifiedAt"],
        local_date_time=row["localDateTime"],
        duration=row["duration"],
        type=row["type"],
        deleted_at=row["deletedAt"],
        is_favorite=bool(row["isFavorite"]),
        visibility=row["visibility"],
        live_photo_video_id=_str(row["livePhotoVideoId"]),
        stack_id=_str(row["stackId"]),
        library_id=_str(row["libraryId"]),
        width=row["width"],
        height=row["height"],
        is_edited=bool(row["isEdited"]),
        created_at=row["createdAt"],
    )


def sync_exif(row: dict[str, Any]) -> SyncAssetExifV1:
    return SyncAssetExifV1(
        asset_id=str(row["assetId"]),
        description=row["description"],
        exif_image_width=row["exifImageWidth"],
        exif_image_height=row["exifImageHeight"],
        file_size_in_byte=None if row["fileSizeInByte"] is None else int(row["fileSizeInByte"]),
        orientation=row["orientation"],
        date_time_original=row["dateTimeOriginal"],
        modify_date=row["modifyDate"],
        time_zone=row["timeZone"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        projection_type=row["projectionType"],
        city=row["city"],
        state=row["state"],
        country=row["country"],
        make=row["make"],
        model=row["model"],
        lens_model=row["lensModel"],
        f_number=row["fNumber"],
        focal_length=row["focalLength"],
        iso=row["iso"],
        exposure_time=row["exposureTime"],
        profile_description=row["profileDescription"],
        rating=row["rating"],
        fps=row["fps"],
    )


def sync_edit(row: dict[str, Any]) -> SyncAssetEditV1:
    return SyncAssetEditV1(
        id=str(row["id"]), asset_id=str(row["assetId"]), sequence=row["sequence"],
        action=row["action"], parameters=row["parameters"],
    )
