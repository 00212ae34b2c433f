"""Profile images made from a picture's bytes (the OAuth profile picture), as Immich's
``generateProfileImage`` makes them: the thumbnail settings' format, size and quality, under
``<media>/profile/<userId>/``, written through a temp file so a reader never sees half of one.
Blocking: call it in a worker thread.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from uuid import UUID

from PIL import Image, ImageOps

from immich_trio.storage import layout
from immich_trio.storage.files import fsync_dir, make_dirs, remove_quietly

_PIL_FORMATS = {"webp": "WEBP", "jpeg": "JPEG"}


def write_profile_image(
    media: Path, user_id: UUID | str, data: bytes, *, fmt: str, size: int, quality: int
) -> Path:
    """Decode ``data``, shrink it so its shorter side is ``size`` (never enlarged), and store it."""
    pil_format = _PIL_FORMATS.get(fmt, "WEBP")
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = size / min(image.size)
    if scale < 1:
        width, height = image.size
        image = image.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS
        )
    target = layout.new_profile_image_path(
        media, user_id, f".{fmt if fmt in _PIL_FORMATS else 'webp'}"
    )
    make_dirs(target.parent)
    temp = target.with_name(f".{target.name}.part")
    try:
        with open(temp, "wb") as out:
            image.save(out, format=pil_format, quality=quality)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        remove_quietly(temp)
        raise
    fsync_dir(target.parent)
    return target
