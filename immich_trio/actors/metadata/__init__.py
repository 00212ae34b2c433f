"""Metadata extraction: the exiftool client and the pure tag-to-record mapping."""

from __future__ import annotations

from immich_trio.actors.metadata.dates import TimezoneLookup, default_timezone_lookup
from immich_trio.actors.metadata.exiftool import (
    Exiftool,
    ExiftoolError,
    ExiftoolStatistics,
    open_exiftool,
)
from immich_trio.actors.metadata.extract import extract_metadata, merge_tags
from immich_trio.actors.metadata.records import (
    ExifRecord,
    ExtractedMetadata,
    FileFacts,
    VideoFacts,
)

__all__ = [
    "ExifRecord",
    "Exiftool",
    "ExiftoolError",
    "ExiftoolStatistics",
    "ExtractedMetadata",
    "FileFacts",
    "TimezoneLookup",
    "VideoFacts",
    "default_timezone_lookup",
    "extract_metadata",
    "merge_tags",
    "open_exiftool",
]
