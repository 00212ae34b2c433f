"""Camera RAW decoding with rawpy (LibRaw): the embedded JPEG preview when it is allowed and
large enough, otherwise demosaicing (at half size when that still covers the target)."""

from __future__ import annotations

import io
from pathlib import Path

import attrs
import numpy as np
import rawpy
from PIL import Image

__all__ = ["RAW_EXTENSIONS", "RawDecoded", "decode_raw"]

RAW_EXTENSIONS = frozenset(
    {
        ".3fr", ".ari", ".arw", ".cap", ".cin", ".cr2", ".cr3", ".crw", ".dcr", ".dng",
        ".erf", ".fff", ".iiq", ".k25", ".kdc", ".mrw", ".nef", ".nrw", ".orf", ".ori",
        ".pef", ".raf", ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
    }
)  # fmt: skip
"""Immich's RAW list minus .psd, which LibRaw cannot read (Pillow decodes it)."""

# LibRaw's `flip` -> EXIF orientation.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


@attrs.frozen(kw_only=True)
class RawDecoded:
    image: Image.Image
    """sRGB pixels; not yet oriented when ``orientation`` != 1."""
    orientation: int
    embedded_jpeg: bytes | None
    """The embedded preview's bytes when it was used (written as-is as the fullsize file)."""
    full_width: int
    """Unoriented size of the picture the pixels stand for (sensor or preview)."""
    full_height: int


def decode_raw(
    source: Path, *, short_side: int | None, min_embedded: int, extract_embedded: bool
) -> RawDecoded:
    """Decode ``source``. ``short_side`` is the smallest short side worth decoding (None: full
    resolution); an embedded preview is used only when its short side is >= ``min_embedded``."""
    with rawpy.imread(str(source)) as raw:
        orientation = _FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
        if extract_embedded:
            embedded = _embedded_jpeg(raw)
            if embedded is not None:
                preview = Image.open(io.BytesIO(embedded))
                if min(preview.size) >= min_embedded:
                    width, height = preview.size
                    if short_side is not None and min(width, height) > short_side:
                        scale = short_side / min(width, height)
                        preview.draft(
                            preview.mode, (max(1, int(width * scale)), max(1, int(height * scale)))
                        )
                    preview.load()
                    return RawDecoded(
                        image=preview,
                        orientation=orientation,
                        embedded_jpeg=embedded,
                        full_width=width,
                        full_height=height,
                    )
        width, height = raw.sizes.width, raw.sizes.height
        half = short_side is not None and min(width, height) // 2 >= short_side
        rgb = raw.postprocess(
            half_size=half,
            use_camera_wb=True,
            output_bps=8,
            output_color=rawpy.ColorSpace.sRGB,
            user_flip=0,  # orientation is applied after resizing, on fewer pixels
        )
    return RawDecoded(
        image=Image.fromarray(np.ascontiguousarray(rgb), "RGB"),
        orientation=orientation,
        embedded_jpeg=None,
        full_width=width,
        full_height=height,
    )


def _embedded_jpeg(raw: rawpy.RawPy) -> bytes | None:
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    return bytes(thumb.data)
