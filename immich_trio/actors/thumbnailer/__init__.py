"""Image thumbnails for Immich: preview, thumbnail, fullsize and thumbhash (pipeline.md §5).

The functions here are synchronous and thread-safe. The thumbnailer actor (actor.py) does not
decode in its own process: it runs the ``render_*`` functions (codecs.py, video.py, edited.py)
in codec worker processes (workers.py: a few trio-parallel workers, reused job after job, each
under an ``RLIMIT_DATA`` memory ceiling of the decode budget plus a margin). They answer a
``Rendered`` (the encoded files, not yet written, and the ``ThumbnailResult``) and the actor
writes the files atomically (files.py). A worker that runs out of memory or dies (a signal, a
codec crash, ``kill -9``) fails that one job with the cause, not retried, and is replaced.
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
