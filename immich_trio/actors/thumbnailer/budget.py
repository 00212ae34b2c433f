"""The decode memory budget: images whose pixels would not fit in it are streamed by libvips
with shrink-on-load, or refused before a byte of pixels is allocated.

A file's header says how big its pixels are; decoders trust it. An 85-byte PNG claiming
65000x65000 pixels made Pillow allocate ~16 GB. Immich sets no pixel limit but decodes with
libvips, which streams PNG, TIFF, WebP and JPEG (shrinking JPEG and WebP in the decoder), so
such a file fails when its data runs out, after a few KB. Here the same: the size is read from
the header (no pixels decoded), an image that fits the budget decodes as before, a larger one
in a streamable format goes through ``pyvips.Image.thumbnail`` (access sequential, a few
scanlines in memory), and anything else over the budget is refused with the reason. Real
panoramas of several hundred megapixels stream; only their fullsize rendition is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pyvips
from PIL import Image

from .options import ThumbnailError

__all__ = [
    "BUDGET_ENV",
    "DEFAULT_BUDGET_MB",
    "STREAMABLE",
    "StreamedImage",
    "decode_budget",
    "decode_cost",
    "load_streamed",
    "refuse",
]

BUDGET_ENV = "IMMICH_TRIO_DECODE_MEMORY_MB"
"""Megabytes one in-memory decode may take (per concurrent thumbnail job)."""
DEFAULT_BUDGET_MB = 512
"""Fits a 40 MP RGBA image with its working copies; bigger images stream or are refused."""
STREAMABLE = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})
"""Pillow format names whose libvips loader decodes sequentially (shrinking JPEG and WebP)."""
_COPIES = 3
"""Full-size buffers alive at once in the Pillow path: decoded, mode-converted, oriented."""
_BYTES_PER_PIXEL = 4
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def decode_budget(env: os._Environ[str] | dict[str, str] | None = None) -> int:
    """The budget in bytes, from ``IMMICH_TRIO_DECODE_MEMORY_MB`` (default 512)."""
    value = (os.environ if env is None else env).get(BUDGET_ENV, "")
    try:
        megabytes = int(value) if value.strip() else DEFAULT_BUDGET_MB
    except ValueError:
        megabytes = DEFAULT_BUDGET_MB
    return max(16, megabytes) * 1024 * 1024


def decode_cost(fmt: str | None, width: int, height: int, short_side: int | None) -> int:
    """Bytes the in-memory decode of a ``width`` x ``height`` image needs, at most.

    JPEG decodes at up to 1/8 scale (``draft``) when only ``short_side`` is wanted.
    """
    scale = 1.0
    if fmt == "JPEG" and short_side is not None and min(width, height) > short_side:
        scale = max(short_side / min(width, height), 1 / 8)
    pixels = (width * scale) * (height * scale)
    return int(pixels * _BYTES_PER_PIXEL * _COPIES)


def refuse(name: str, width: int, height: int, budget: int) -> ThumbnailError:
    megapixels = width * height / 1e6
    return ThumbnailError(
        f"{name}: image too large to decode: {width}x{height} ({megapixels:.0f} MP) does not fit"
        f" the decode memory budget of {budget // (1024 * 1024)} MB ({BUDGET_ENV})",
        permanent=True,
    )


@attrs.frozen(kw_only=True)
class StreamedImage:
    image: Image.Image
    """Shrunk to about the requested size, not oriented."""
    orientation: int
    icc: bytes | None


def load_streamed(source: Path, size: tuple[int, int]) -> StreamedImage:
    """Decode ``source`` sequentially, shrinking on load, to fit within ``size``.

    A file whose data ends before its header's promise fails (``fail_on="truncated"``).
    """
    try:
        image = pyvips.Image.thumbnail(
            str(source),
            size[0],
            height=size[1],
            size="down",
            no_rotate=True,
            fail_on="truncated",
        )
        fields = set(image.get_fields())
        orientation = int(image.get("orientation")) if "orientation" in fields else 1
        icc = bytes(image.get("icc-profile-data")) if "icc-profile-data" in fields else None
        if str(image.interpretation) == "cmyk":
            image, icc = image.colourspace("srgb"), None
        if image.format != "uchar":  # 16-bit or float samples: to 8 bits
            image = image.colourspace("srgb" if image.bands >= 3 else "b-w").cast("uchar")
        mode = _MODES.get(image.bands)
        if mode is None:
            image, mode = image[:3], "RGB"
        pixels = image.write_to_memory()
    except pyvips.Error as exc:
        # libvips puts the loader's own words in ``detail``; the message is generic.
        detail = " ".join(str(exc.detail or "").split()) or str(exc.message)
        raise ThumbnailError(
            f"{source.name}: cannot decode image: pixel data missing or corrupt ({detail})",
            permanent=True,
        ) from exc
    pil = Image.frombuffer(mode, (image.width, image.height), pixels, "raw", mode, 0, 1)
    return StreamedImage(image=pil, orientation=orientation, icc=icc)
