"""Image thumbnails for Immich: preview, thumbnail, fullsize and thumbhash (pipeline.md §5).

The functions here are synchronous and thread-safe; the thumbnailer actor calls them in
worker threads.
"""

from __future__ import annotations

from .codecs import WEB_SUPPORTED_EXTENSIONS, generate_image_thumbnails, needs_fullsize
from .options import (
    FullsizeOptions,
    OutputOptions,
    ThumbnailError,
    ThumbnailOptions,
    ThumbnailResult,
)
from .thumbhash import rgba_to_thumbhash, thumbhash_to_average_rgba, thumbhash_to_rgba

__all__ = [
    "WEB_SUPPORTED_EXTENSIONS",
    "FullsizeOptions",
    "OutputOptions",
    "ThumbnailError",
    "ThumbnailOptions",
    "ThumbnailResult",
    "generate_image_thumbnails",
    "needs_fullsize",
    "rgba_to_thumbhash",
    "thumbhash_to_average_rgba",
    "thumbhash_to_rgba",
]
