"""Inputs and outputs of metadata extraction: file facts, ffprobe facts, the asset_exif row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class FileFacts:
    """What the job knows besides the tags: stat of the original and the asset's dates."""

    size: int
    mtime: datetime  # aware
    birthtime: datetime | None = None
    file_created_at: datetime  # the asset's current value (from the upload form)
    file_modified_at: datetime


@attrs.frozen(kw_only=True)
class VideoFacts:
    """ffprobe's view of the first video stream (videos and .gif); not computed here."""

    width: int | None = None
    height: int | None = None
    rotation: int | None = 0  # degrees, counter-clockwise (ffprobe display matrix); None: no video stream
    duration_seconds: float | None = None
    fps: float | None = None


@attrs.frozen(kw_only=True)
class ExifRecord:
    """One ``asset_exif`` row, minus assetId/updatedAt/updateId/lockedProperties."""

    make: str | None
    model: str | None
    exif_image_width: int | None
    exif_image_height: int | None
    file_size_in_byte: int | None
    orientation: str | None
    date_time_original: datetime | None
    modify_date: datetime | None
    time_zone: str | None
    lens_model: str | None
    f_number: float | None
    focal_length: float | None
    iso: int | None
    exposure_time: str | None
    latitude: float | None
    longitude: float | None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    description: str
    projection_type: str | None
    rating: int | None
    profile_description: str | None
    colorspace: str | None
    bits_per_sample: int | None
    fps: float | None
    live_photo_cid: str | None
    auto_stack_id: str | None
    tags: tuple[str, ...] | None

    def columns(self, *, locked: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Column name → value, without the columns in ``lockedProperties`` (user edits)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(ExifRecord):
            name = EXIF_COLUMN_NAMES[field.name]
            if name in locked:
                continue
            value = getattr(self, field.name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


EXIF_COLUMN_NAMES: Mapping[str, str] = {
    "make": "make",
    "model": "model",
    "exif_image_width": "exifImageWidth",
    "exif_image_height": "exifImageHeight",
    "file_size_in_byte": "fileSizeInByte",
    "orientation": "orientation",
    "date_time_original": "dateTimeOriginal",
    "modify_date": "modifyDate",
    "time_zone": "timeZone",
    "lens_model": "lensModel",
    "f_number": "fNumber",
    "focal_length": "focalLength",
    "iso": "iso",
    "exposure_time": "exposureTime",
    "latitude": "latitude",
    "longitude": "longitude",
    "city": "city",
    "state": "state",
    "country": "country",
    "description": "description",
    "projection_type": "projectionType",
    "rating": "rating",
    "profile_description": "profileDescription",
    "colorspace": "colorspace",
    "bits_per_sample": "bitsPerSample",
    "fps": "fps",
    "live_photo_cid": "livePhotoCID",
    "auto_stack_id": "autoStackId",
    "tags": "tags",
}


@attrs.frozen(kw_only=True)
class ExtractedMetadata:
    """``asset_exif`` plus the ``asset`` columns metadata extraction sets."""

    exif: ExifRecord
    file_created_at: datetime
    local_date_time: datetime
    file_modified_at: datetime
    duration_ms: int | None
    width: int | None  # display dimensions (sideways orientations swapped)
    height: int | None
    motion_photo: bool = False  # tagged MotionPhoto/MicroVideo: an embedded video to look for
