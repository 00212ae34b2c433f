"""Which decoder a file needs, read from its first bytes rather than its name.

Immich's image library reads the content, so a PNG uploaded as ``photo.arw`` or a JPEG named
``.dng`` gets its thumbnails like any PNG or JPEG. Camera RAW goes to LibRaw when the content
is RAW (by its own signature) or when a RAW extension names content that is no plain image
format (TIFF-based RAW such as DNG, ARW, NEF or CR2 starts like any TIFF).
"""

from __future__ import annotations

from pathlib import Path

from .raw import RAW_EXTENSIONS

__all__ = ["decodes_as_raw", "plain_image_format"]

# ISOBMFF major brands of HEIF and AVIF still images and sequences (not Canon's CR3, "crx ").
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"mif2", b"msf1",
     b"avif", b"avis"}
)  # fmt: skip
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"

# Signatures only camera RAW files carry (those that do not start like a plain TIFF).
_RAW_SIGNATURES = (
    b"FUJIFILMCCD-RAW",  # RAF
    b"IIRO",  # Olympus ORF
    b"IIRS",  # Olympus ORF
    b"MMOR",  # Olympus ORF, big-endian
    b"IIU\x00",  # Panasonic RW2
    b"FOVb",  # Sigma X3F
    b"\x00MRM",  # Minolta MRW
)


def plain_image_format(head: bytes) -> str | None:
    """The plain (non-RAW) image format ``head`` starts with, or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    if head[:2] == b"\xff\x0a" or head[:12] == _JXL_CONTAINER:
        return "JXL"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] == b"8BPS":
        return "PSD"
    return None


def _raw_signature(head: bytes) -> bool:
    if head.startswith(_RAW_SIGNATURES):
        return True
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":  # Canon CR3
        return True
    return head[:4] == b"II\x1a\x00" and head[6:14] == b"HEAPCCDR"  # Canon CRW


def decodes_as_raw(source: Path, head: bytes) -> bool:
    """Whether LibRaw, not the image library, should decode ``source`` starting with ``head``."""
    if plain_image_format(head) is not None:
        return False
    return _raw_signature(head) or source.suffix.lower() in RAW_EXTENSIONS
