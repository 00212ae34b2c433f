"""A corpus of hostile media, made on the fly (nothing binary is committed), and a runner that
decodes one file in a child process under a memory ceiling and reports its peak RSS.

Each item says what a user must see: ``failed`` (the job fails with a reason), ``success``
(a valid image gets its thumbnails) or ``either`` (a damaged file that libvips, like Immich's
pipeline, streams and fills with grey where data is missing: bounded memory, no failure).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import attrs
import pillow_heif
from PIL import Image

Expect = Literal["failed", "success", "either"]
CHILD_ADDRESS_SPACE = 4 * 1024**3
"""RLIMIT_AS of the decoding child: a bomb that escapes the guards dies there, not the box."""


@attrs.frozen(kw_only=True)
class Item:
    name: str
    filename: str
    data: bytes
    expect: Expect


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, *chunks: bytes, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(chunks) + _chunk(b"IEND", b"")


def png_header_bomb(tag: int = 0) -> bytes:
    """The issue's 85-byte PNG: a header claiming 65000x65000 RGB, no pixel data."""
    return _png(65000, 65000, _chunk(b"tEXt", b"n\x00%d" % tag))


def png_deflate_panorama(width: int = 12000, height: int = 4000) -> bytes:
    """A real grey image whose rows deflate ~1000:1: streams, must succeed."""
    z = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * width
    out = [z.compress(row) for _ in range(height)]
    return _png(width, height, _chunk(b"IDAT", b"".join(out) + z.flush()), colour=0)


def _small(fmt: str, size: tuple[int, int] = (64, 48), **kw: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(buffer, fmt, **kw)
    return buffer.getvalue()


def jpeg_lying_header() -> bytes:
    """A 64x48 JPEG whose SOF0 claims 65000x65000."""
    data = bytearray(_small("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


def webp_lying_header() -> bytes:
    """A lossless 64x48 WebP whose VP8L header claims 16383x16383 (WebP's maximum)."""
    data = bytearray(_small("WEBP", lossless=True))
    at = data.index(b"VP8L") + 9  # chunk header (8) + signature byte
    (bits,) = struct.unpack("<I", data[at : at + 4])
    bits = (bits & ~((1 << 28) - 1)) | 16382 | (16382 << 14)
    data[at : at + 4] = struct.pack("<I", bits)
    return bytes(data)


def heic_lying_header() -> bytes:
    """A 64x48 HEIC whose ``ispe`` claims 60000x60000."""
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), (10, 200, 30))).save(buffer, quality=50)
    data = bytearray(buffer.getvalue())
    at = data.index(b"ispe") + 8  # type + version/flags
    data[at : at + 8] = struct.pack(">II", 60000, 60000)
    return bytes(data)


def tiff_header_bomb() -> bytes:
    """A TIFF claiming 30000x30000 8-bit grey in one uncompressed strip of 16 bytes."""
    entries = [
        (256, 4, 1, 30000),  # ImageWidth
        (257, 4, 1, 30000),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: min-is-black
        (273, 4, 1, 8 + 2 + 9 * 12 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, 30000),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + b"\x7f" * 16


def gif_header_bomb() -> bytes:
    """A GIF whose screen and frame claim 65535x65535, with a few bytes of LZW data."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) + b"\x00" * 3 + b"\xff" * 3
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0)
    return screen + frame + b"\x02\x02\x44\x01\x00\x3b"


def exif_ifd_loop() -> bytes:
    """A valid JPEG whose EXIF IFD0 points its next IFD, and its Exif IFD, back at itself."""
    tiff = b"MM\x00*" + struct.pack(">I", 8)
    entries = [(0x0112, 3, 1, struct.pack(">HH", 1, 0)), (0x8769, 4, 1, struct.pack(">I", 8))]
    ifd = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(">HHI", tag, kind, count) + value
    payload = b"Exif\x00\x00" + tiff + ifd + struct.pack(">I", 8)
    jpeg = _small("JPEG")
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_huge_icc() -> bytes:
    """A valid 64x48 PNG whose iCCP chunk inflates to 200 MB."""
    image = _small("PNG")
    z = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    profile = b"".join(z.compress(block) for _ in range(200)) + z.flush()
    iccp = _chunk(b"iCCP", b"icc\x00\x00" + profile)
    return image[:33] + iccp + image[33:]


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corpus(*, panorama: tuple[int, int] = (12000, 4000)) -> list[Item]:
    big_png = _small("PNG", (640, 480))
    big_jpeg = _small("JPEG", (640, 480))
    items: list[tuple[str, str, Callable[[], bytes], Expect]] = [
        ("png-header-bomb", "bomb.png", png_header_bomb, "failed"),
        ("png-deflate-panorama", "pano.png", lambda: png_deflate_panorama(*panorama), "success"),
        ("jpeg-lying-header", "bomb.jpg", jpeg_lying_header, "either"),
        ("webp-lying-header", "bomb.webp", webp_lying_header, "failed"),
        ("heic-lying-header", "bomb.heic", heic_lying_header, "failed"),
        ("tiff-header-bomb", "bomb.tif", tiff_header_bomb, "either"),
        ("gif-header-bomb", "bomb.gif", gif_header_bomb, "failed"),
        ("png-truncated", "cut.png", lambda: truncated(big_png), "failed"),
        ("jpeg-truncated", "cut.jpg", lambda: truncated(big_jpeg), "either"),
        ("exif-ifd-loop", "loop.jpg", exif_ifd_loop, "success"),
        ("png-huge-icc", "icc.png", png_huge_icc, "either"),
        ("png-named-raw", "photo.dng", lambda: big_png, "success"),
        ("text-named-raw", "photo.cr2", lambda: b"not a raw file\n" * 100, "failed"),
    ]
    return [Item(name=n, filename=f, data=make(), expect=e) for n, f, make, e in items]


_CHILD = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from immich_trio.actors.thumbnailer.codecs import generate_image_thumbnails
from immich_trio.actors.thumbnailer.options import ThumbnailError, ThumbnailOptions
source, out = Path(sys.argv[1]), Path(sys.argv[2])
def high_water_kb():  # VmHWM: this image's peak (ru_maxrss keeps the forking parent's across exec)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = high_water_kb()
try:
    generate_image_thumbnails(source, preview_path=out / "p.jpeg", thumbnail_path=out / "t.webp",
                              fullsize_path=None, options=ThumbnailOptions())
    status, reason, permanent = "success", "", False
except ThumbnailError as exc:
    status, reason, permanent = "failed", exc.reason, exc.permanent
peak = high_water_kb()
print(json.dumps({{"status": status, "reason": reason, "permanent": permanent,
                  "base_mb": base / 1024, "peak_mb": peak / 1024}}))
"""


def decode_isolated(source: Path, out: Path, *, timeout: float = 300) -> dict[str, object]:
    """Thumbnail ``source`` in a child under ``CHILD_ADDRESS_SPACE``; its outcome and peak RSS."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(limit=CHILD_ADDRESS_SPACE), str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        return {"status": "crashed", "reason": proc.stderr[-500:], "peak_mb": float("nan")}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
