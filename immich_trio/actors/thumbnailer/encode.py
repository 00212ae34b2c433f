"""Encoding of the renditions (JPEG or WebP, with an optional ICC profile) and the EXIF
orientation segment put on an embedded RAW preview."""

from __future__ import annotations

import io
import struct

from PIL import Image

__all__ = ["encode", "with_orientation"]


def encode(
    image: Image.Image, fmt: str, quality: int, progressive: bool, icc: bytes | None
) -> bytes:
    buffer = io.BytesIO()
    extra: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        if image.mode == "RGBA":
            # JPEG has no alpha: flatten onto white, as documents and logos expect.
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        subsampling = 0 if quality >= 80 else 2  # 4:4:4 from q80 up, like Immich
        image.save(
            buffer,
            "JPEG",
            quality=quality,
            progressive=progressive,
            subsampling=subsampling,
            **extra,
        )
    else:
        image.save(buffer, "WEBP", quality=quality, **extra)
    return buffer.getvalue()


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an EXIF segment carrying ``orientation`` right after SOI."""
    if orientation == 1 or jpeg[:2] != b"\xff\xd8":
        return jpeg
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
