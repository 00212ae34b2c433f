"""JPEG shrink-on-load with libvips: DCT-domain shrink plus libvips' vectorised lanczos3
reduce to the exact preview size. Measured on a 24 MP JPEG on one core, Pillow's lanczos
resize from the 1/2-scale decode cost more than the decode itself; libvips does both steps
in about the time of Pillow's decode alone. Pixels are handed to Pillow for the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pyvips
from PIL import Image

__all__ = ["ShrunkJpeg", "load_jpeg_shrunk"]

_MODES = {("b-w", 1): "L", ("srgb", 3): "RGB", ("cmyk", 4): "CMYK"}


@attrs.frozen(kw_only=True)
class ShrunkJpeg:
    image: Image.Image
    """Exactly ``size`` pixels, not oriented."""
    width: int
    """Unoriented size of the original."""
    height: int
    orientation: int
    icc: bytes | None


def load_jpeg_shrunk(
    source: Path, target: Callable[[int, int], tuple[int, int]]
) -> ShrunkJpeg | None:
    """Decode ``source`` straight to ``target(width, height)``; None when that is not a
    downscale or libvips' output cannot be handed over as-is (unusual colour layouts), so
    the caller uses Pillow instead."""
    header = pyvips.Image.new_from_file(str(source), access="sequential", fail_on="truncated")
    width, height = header.width, header.height
    size = target(width, height)
    if size[0] >= width or size[1] >= height:
        return None
    shrink = 1
    for factor in (8, 4, 2):
        # libjpeg rounds scaled sizes up; stay at or above the target in both directions.
        if -(-width // factor) >= size[0] and -(-height // factor) >= size[1]:
            shrink = factor
            break
    image = pyvips.Image.jpegload(
        str(source), shrink=shrink, access="sequential", fail_on="truncated"
    )
    mode = _MODES.get((str(image.interpretation), image.bands))
    if mode is None or image.format != "uchar":
        return None
    if (image.width, image.height) != size:
        image = image.resize(
            size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3"
        )
    fields = set(image.get_fields())
    orientation = int(image.get("orientation")) if "orientation" in fields else 1
    icc = bytes(image.get("icc-profile-data")) if "icc-profile-data" in fields else None
    pixels = image.write_to_memory()
    pil = Image.frombuffer(mode, (image.width, image.height), pixels, "raw", mode, 0, 1)
    return ShrunkJpeg(image=pil, width=width, height=height, orientation=orientation, icc=icc)
