"""Google and Samsung motion photos: where the embedded video is, and reading it out.

As Immich's ``applyMotionPhotos`` (metadata.service.ts): an IMAGE whose tags carry
``MotionPhoto`` or ``MicroVideo`` has a video that is either a binary tag (Samsung HEIC
``MotionPhotoVideo``, Samsung JPEG trailer ``EmbeddedVideoFile`` of type
``MotionPhoto_Data``) or the last ``Length`` (+``Padding``) bytes of the file, from the
``MotionPhoto`` item of the XMP container directory or from ``MicroVideoOffset``.

Reading happens before the job's transaction (``read_motion_video``); the file of a new
video is written there too (``place_motion_video``), at a path derived from the still and the
video's SHA-1, so a job that runs again writes the same file instead of leaving a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from immich_trio.actors.metadata.exiftool import Exiftool, ExiftoolError
from immich_trio.storage import files

log = logging.getLogger(__name__)

#: The tags the location needs, read with ``-struct`` so the container directory keeps
#: its items (exiftool 12.x names Google's unknown ``Container:Directory`` "Directory").
MOTION_READ_ARGS: tuple[str, ...] = (
    "-json",
    "-struct",
    "-n",
    "-api",
    "largefilesupport=1",
    "-charset",
    "filename=utf8",
    "-MotionPhoto",
    "-MicroVideo",
    "-MicroVideoOffset",
    "-MotionPhotoVideo",
    "-EmbeddedVideoType",
    "-EmbeddedVideoFile",
    "-XMP:ContainerDirectory",
    "-XMP:Directory",
)
DIRECTORY_TAGS = ("ContainerDirectory", "Directory")
SAMSUNG_VIDEO_TYPE = "MotionPhoto_Data"
#: An ISO base media file (MP4/MOV) has its ``ftyp`` box here.
ISO_BMFF_BRAND_AT = slice(4, 8)
ISO_BMFF_BRAND = b"ftyp"
READ_TIMEOUT = 60.0
"""Seconds each exiftool request for the video may take (a 3 MB binary tag takes ~0.1 s)."""


class MotionPhotoError(Exception):
    """The still says it carries a video, but the video cannot be read out of it."""


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", "0")


def is_motion_photo(tags: Mapping[str, Any]) -> bool:
    """Immich's ``isMotionPhoto`` (the caller checks that the asset is an IMAGE)."""
    return _truthy(tags.get("MotionPhoto")) or _truthy(tags.get("MicroVideo"))


@attrs.frozen(kw_only=True)
class MotionLocation:
    """Either a binary tag to extract, or the ``length`` bytes ending ``padding`` before EOF."""

    tag: str | None = None
    length: int = 0
    padding: int = 0


def _integer(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def locate(tags: Mapping[str, Any]) -> MotionLocation | None:
    """Where the video is, from the motion-photo tags (``MOTION_READ_ARGS``); None if nowhere."""
    length = padding = 0
    if _truthy(tags.get("MotionPhoto")):
        directory: list[Any] = next((tags[t] for t in DIRECTORY_TAGS if isinstance(tags.get(t), list)), [])
        for entry in directory:
            item = entry.get("Item") if isinstance(entry, dict) else None
            if isinstance(item, dict) and item.get("Semantic") == "MotionPhoto":
                length, padding = _integer(item.get("Length")), _integer(item.get("Padding"))
                break
    offset = tags.get("MicroVideoOffset")
    if _truthy(tags.get("MicroVideo")) and isinstance(offset, int) and not isinstance(offset, bool):
        length = offset
    # HEIC files carry the trailer tags too, so MotionPhotoVideo comes first.
    if _truthy(tags.get("MotionPhotoVideo")):
        return MotionLocation(tag="MotionPhotoVideo")
    if tags.get("EmbeddedVideoType") == SAMSUNG_VIDEO_TYPE and _truthy(tags.get("EmbeddedVideoFile")):
        return MotionLocation(tag="EmbeddedVideoFile")
    if not length:
        return None
    return MotionLocation(length=length, padding=padding)


def _read_tail(path: str, length: int, padding: int) -> bytes:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        position = size - length - padding
        if length < 0 or padding < 0 or position < 0:
            raise MotionPhotoError(
                f"the video ({length} bytes, {padding} of padding) does not fit in the file ({size} bytes)"
            )
        f.seek(position)
        data = f.read(length)
    if len(data) != length:
        raise MotionPhotoError(f"read {len(data)} of the video's {length} bytes")
    return data


async def read_motion_video(exiftool: Exiftool, path: str) -> bytes | None:
    """The embedded video's bytes, or None when the tags point at none.

    Raises ``MotionPhotoError`` (or ``ExiftoolError``, ``OSError``, ``trio.TooSlowError``) when
    the video cannot be read or is not an MP4/MOV; the caller logs it and the still's own
    extraction goes on, as Immich's does.
    """
    # ``path`` is the stored original: absolute, so never taken for an option.
    with trio.fail_after(READ_TIMEOUT):
        out = await exiftool.execute(*MOTION_READ_ARGS, path)
    tags = _first_record(out, path)
    location = locate(tags)
    if location is None:
        return None
    if location.tag is not None:
        with trio.fail_after(READ_TIMEOUT):
            data = await exiftool.execute("-b", "-api", "largefilesupport=1", f"-{location.tag}", path)
    else:
        data = await trio.to_thread.run_sync(_read_tail, path, location.length, location.padding)
    if data[ISO_BMFF_BRAND_AT] != ISO_BMFF_BRAND:
        # Immich would store such bytes as a video that no player opens; we keep none.
        raise MotionPhotoError("the embedded video is not an MP4/MOV file")
    return data


def _first_record(out: bytes, path: str) -> Mapping[str, Any]:
    try:
        records = json.loads(out.decode("utf-8", "surrogateescape") or "[]")
    except ValueError as exc:
        raise ExiftoolError(f"unreadable exiftool output: {exc}", path=path) from exc
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return {}
    record: Mapping[str, Any] = records[0]
    return record


# -- the extracted video's file ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PlacedMotionVideo:
    """The extracted video, hashed and (if no asset holds it yet, or its file is gone) on disk."""

    checksum: bytes
    size: int
    new_id: uuid.UUID  # the id a new asset takes (derived from the still and the checksum)
    new_path: Path
    file_name: str  # the new asset's originalFileName: the still's name with ``.mp4``
    written: Path | None  # the file this job wrote, if any


def motion_asset_id(still_id: str, checksum: bytes) -> uuid.UUID:
    """The same still and video always give the same id, hence the same ``-MP.mp4`` path."""
    digest = hashlib.sha1(b"immich-trio motion photo " + still_id.encode() + checksum).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def place_motion_video(
    media: Path,
    *,
    still_id: str,
    owner_id: str,
    file_name: str,
    data: bytes,
    checksum: bytes,
    existing_path: str | None,
) -> PlacedMotionVideo:
    """Write ``data`` where it belongs unless the file is already there (blocking: run it in
    a worker thread). ``existing_path`` is the file of the owner's asset that already has
    this checksum (Immich writes it again when it was deleted)."""
    new_id = motion_asset_id(still_id, checksum)
    new_path = files.motion_video_path(media, owner_id, new_id)
    target = Path(existing_path) if existing_path else new_path
    written = None
    if not target.exists():
        files.write_atomic(target, data)
        written = target
    return PlacedMotionVideo(
        checksum=checksum, size=len(data), new_id=new_id, new_path=new_path, file_name=file_name, written=written
    )


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()
