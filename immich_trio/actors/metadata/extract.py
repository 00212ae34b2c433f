"""From exiftool tags (file + sidecar) and file facts to what Immich stores (pure, no I/O).

Follows the reference's metadata rules (pipeline.md §6): the ``asset_exif`` columns and the
asset's dates, duration and display dimensions. Tags are those of ``Exiftool.read_tags``:
printed values without group names, numeric Orientation/GPS/FocalLength/Rotation/Duration.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from immich_trio.actors.metadata.dates import (
    DATE_TAGS,
    ZONE_TAGS,
    TimezoneLookup,
    Zone,
    capture_dates,
    first_date,
    gps_position,
    infer_zone,
    to_ms,
)
from immich_trio.actors.metadata.motion_photo import is_motion_photo
from immich_trio.actors.metadata.records import (
    EXIF_COLUMN_NAMES,
    ExifRecord,
    ExtractedMetadata,
    FileFacts,
    VideoFacts,
)

__all__ = [
    "EXIF_COLUMN_NAMES",
    "ExifRecord",
    "ExtractedMetadata",
    "FileFacts",
    "VideoFacts",
    "extract_metadata",
    "merge_tags",
]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
#: media-types flag "heif": EXIF Orientation ignored, QuickTime Rotation used instead.
HEIF_EXTENSIONS = frozenset({".avif", ".heic", ".heif", ".hif"})
#: media-types flag "possiblyAnimated": the only images that keep an exif Duration.
POSSIBLY_ANIMATED_EXTENSIONS = frozenset(
    {".avif", ".gif", ".png", ".webp", ".heic", ".heif", ".jxl"}
)
#: Rotation in degrees counter-clockwise → EXIF orientation (HEIF irot in degrees).
ROTATION_TO_ORIENTATION: Mapping[int, int] = {0: 1, 90: 8, 180: 3, 270: 6}
#: ffprobe's display-matrix rotation → EXIF orientation, the values Immich maps for videos.
VIDEO_ROTATION_TO_ORIENTATION: Mapping[int, int] = {-90: 6, 0: 1, 90: 8, 180: 3}
#: HEIF irot written as quarter turns.
QUARTER_TURNS_TO_ORIENTATION: Mapping[int, int] = {1: 8, 2: 3, 3: 6}
SIDEWAYS_ORIENTATIONS = frozenset({5, 6, 7, 8})
#: Tags about the file read, not its content: a sidecar's must not replace the media file's.
FILE_SYSTEM_TAGS = frozenset(
    {
        "SourceFile",
        "ExifToolVersion",
        "FileName",
        "Directory",
        "FileSize",
        "FileModifyDate",
        "FileAccessDate",
        "FileInodeChangeDate",
        "FilePermissions",
        "FileType",
        "FileTypeExtension",
        "MIMEType",
        "MIMEEncoding",
        "ByteOrderMark",
        "Newlines",
        "Warning",
        "Error",
        "Duration",  # never from the sidecar
    }
)

_IMAGE_SIZE_RE = re.compile(r"^\s*(\d+)\s*[x ]\s*(\d+)\s*$")
_LEADING_INT_RE = re.compile(r"^\s*(-?\d+)")


def merge_tags(
    file_tags: Mapping[str, Any],
    sidecar_tags: Mapping[str, Any] | None,
    *,
    lookup: TimezoneLookup | None = None,
) -> tuple[dict[str, Any], Zone | None]:
    """Sidecar tags over file tags, and the zone of the result.

    When the sidecar has a date, the file's dates and zone are discarded (a sidecar date
    with the file's zone would be a mix of two sources).
    """
    zone = infer_zone(file_tags, lookup)
    merged = dict(file_tags)
    if sidecar_tags:
        sidecar = {k: v for k, v in sidecar_tags.items() if k not in FILE_SYSTEM_TAGS}
        if first_date(sidecar) is not None:
            for tag in (*DATE_TAGS, *ZONE_TAGS):
                merged.pop(tag, None)
            zone = None
        zone = infer_zone(sidecar, lookup) or zone
        merged.update(sidecar)
    return merged, zone


def extract_metadata(
    file_tags: Mapping[str, Any],
    facts: FileFacts,
    *,
    original_path: str,
    sidecar_tags: Mapping[str, Any] | None = None,
    is_video: bool = False,
    video: VideoFacts | None = None,
    timezone_lookup: TimezoneLookup | None = None,
) -> ExtractedMetadata:
    """Apply the reference's rules. ``timezone_lookup`` maps GPS to an IANA zone (see
    ``dates.default_timezone_lookup``); without it GPS gives no zone."""
    tags, zone = merge_tags(file_tags, sidecar_tags, lookup=timezone_lookup)
    ext = os.path.splitext(original_path)[1].lower()

    date = first_date(tags)
    if date is not None:
        dates = capture_dates(date, zone, is_video=is_video)
        date_time_original = dates.date_time_original
        local_date_time = dates.local_date_time
        time_zone = dates.time_zone
    else:
        candidates = [facts.file_created_at, facts.mtime]
        if facts.birthtime is not None:
            candidates.append(facts.birthtime)
        earliest = to_ms(min(d.astimezone(UTC) for d in candidates))
        date_time_original = local_date_time = earliest
        time_zone = None

    mtime = to_ms(facts.mtime.astimezone(UTC))
    orientation = _orientation(tags, file_tags, ext, video)
    width, height = _exif_dimensions(tags, video)
    display_w, display_h = width, height
    if orientation in SIDEWAYS_ORIENTATIONS:
        display_w, display_h = height, width

    position = gps_position(tags)
    exif = ExifRecord(
        make=_first_text(
            tags, "Make", ("Device", "Manufacturer"), "AndroidMake", "DeviceManufacturer"
        ),
        model=_first_text(
            tags, "Model", ("Device", "ModelName"), "AndroidModel", "DeviceModelName"
        ),
        exif_image_width=width,
        exif_image_height=height,
        file_size_in_byte=facts.size,
        orientation=str(orientation) if orientation is not None else None,
        date_time_original=date_time_original,
        modify_date=mtime,
        time_zone=time_zone,
        lens_model=_lens_model(tags),
        f_number=_number(tags.get("FNumber")),
        focal_length=_number(tags.get("FocalLength")),
        iso=_integer(_number(tags.get("ISO"))),
        exposure_time=_text(tags.get("ExposureTime")),
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
        description=_description(tags),
        projection_type=_upper(tags.get("ProjectionType")),
        rating=_rating(tags.get("Rating")),
        profile_description=_text(tags.get("ProfileDescription")),
        colorspace=_text(tags.get("ColorSpace")),
        bits_per_sample=_bits_per_sample(tags),
        fps=video.fps if video and video.fps is not None else _number(tags.get("VideoFrameRate")),
        live_photo_cid=_first_text(tags, "ContentIdentifier", "MediaGroupUUID"),
        auto_stack_id=_first_text(tags, "BurstID", "BurstUUID", "CameraBurstID", "MediaUniqueID"),
        tags=_keywords(tags),
    )
    return ExtractedMetadata(
        exif=exif,
        file_created_at=date_time_original,
        local_date_time=local_date_time,
        file_modified_at=mtime,
        duration_ms=_duration_ms(file_tags, ext, is_video, video),
        width=display_w,
        height=display_h,
        motion_photo=not is_video and is_motion_photo(tags),
    )


def _orientation(
    tags: Mapping[str, Any], file_tags: Mapping[str, Any], ext: str, video: VideoFacts | None
) -> int | None:
    rotation = video.rotation if video is not None else None
    if rotation is not None and rotation in VIDEO_ROTATION_TO_ORIENTATION:
        # Immich maps ffprobe's rotation itself (-90, 0, 90, 180); any other value (-180 for
        # an upside-down phone video, no video stream) leaves the tags' Orientation.
        return VIDEO_ROTATION_TO_ORIENTATION[rotation]
    if ext in HEIF_EXTENSIONS:
        rotation = _integer(_number(file_tags.get("Rotation")))
        if rotation is None:
            return None
        if rotation in QUARTER_TURNS_TO_ORIENTATION:
            return QUARTER_TURNS_TO_ORIENTATION[rotation]
        return ROTATION_TO_ORIENTATION.get(rotation % 360)
    value = _integer(_number(tags.get("Orientation")))
    return value if value is not None and 1 <= value <= 8 else None


def _exif_dimensions(
    tags: Mapping[str, Any], video: VideoFacts | None
) -> tuple[int | None, int | None]:
    if video is not None and video.width and video.height:
        return video.width, video.height
    size = tags.get("ImageSize")
    if isinstance(size, str) and (m := _IMAGE_SIZE_RE.match(size)):
        return int(m.group(1)), int(m.group(2))
    return _integer(_number(tags.get("ImageWidth"))), _integer(_number(tags.get("ImageHeight")))


def _duration_ms(
    file_tags: Mapping[str, Any], ext: str, is_video: bool, video: VideoFacts | None
) -> int | None:
    if is_video or video is not None:
        seconds = video.duration_seconds if video is not None else None
    elif ext in POSSIBLY_ANIMATED_EXTENSIONS:
        seconds = _number(file_tags.get("Duration"))
    else:
        seconds = None
    # JavaScript's Math.round (halves up), not Python's round (halves to even): 1.0005 s → 1001.
    return math.floor(seconds * 1000 + 0.5) if seconds is not None else None


def _number(value: Any) -> float | None:
    """First element of lists; strings, booleans, NaN, ±∞ and values beyond int32 → None."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value) or math.isinf(value) or not INT32_MIN <= value <= INT32_MAX:
        return None
    return value


def _integer(value: float | None) -> int | None:
    return None if value is None else round(value)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if text else None


def _upper(value: Any) -> str | None:
    text = _text(value)
    return text.upper() if text else None


def _first_text(tags: Mapping[str, Any], *names: str | tuple[str, str]) -> str | None:
    for name in names:
        if isinstance(name, tuple):
            parent = tags.get(name[0])
            value = parent.get(name[1]) if isinstance(parent, dict) else None
        else:
            value = tags.get(name)
        text = _text(value)
        if text is not None:
            return text
    return None


def _lens_model(tags: Mapping[str, Any]) -> str | None:
    for name in ("LensID", "LensType", "LensSpec", "LensModel"):
        value = tags.get(name)
        if value is None:
            continue
        text = (_text(value) or "").strip()
        if not text or text == "----" or text.startswith("Unknown"):
            return None
        return text
    return None


def _description(tags: Mapping[str, Any]) -> str:
    for name in ("ImageDescription", "Description"):
        value = tags.get(name)
        if value:  # empty strings fall through, a blank one does not
            return (_text(value) or "").strip()
    return ""


def _rating(value: Any) -> int | None:
    number = _integer(_number(value))
    return number if number is not None and 1 <= number <= 5 else None


def _bits_per_sample(tags: Mapping[str, Any]) -> int | None:
    for name in (
        "BitsPerSample",
        "ComponentBitDepth",
        "ImagePixelDepth",
        "BitDepth",
        "ColorBitDepth",
    ):
        value = tags.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        bits: int | None = None
        if isinstance(value, str) and (m := _LEADING_INT_RE.match(value)):
            bits = int(m.group(1))
        elif isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            bits = int(value)
        if bits is not None:
            return bits // 3 if bits >= 24 and bits % 3 == 0 else bits
    return None


def _as_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [t for item in items if (t := _text(item)) is not None]


def _keywords(tags: Mapping[str, Any]) -> tuple[str, ...] | None:
    if tags.get("TagsList") is not None:
        values = _as_list(tags["TagsList"])
    elif tags.get("HierarchicalSubject") is not None:
        # Lightroom separates levels with '|' and may contain '/', the tag separator here.
        values = [
            v.replace("/", "\0").replace("|", "/").replace("\0", "|")
            for v in _as_list(tags["HierarchicalSubject"])
        ]
    elif tags.get("Keywords") is not None:
        values = _as_list(tags["Keywords"])
    else:
        return None
    return tuple(values) if values else None
