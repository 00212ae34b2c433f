"""The decoder is picked from a file's first bytes; the extension only decides for content that
no plain image format claims (TIFF-based RAW)."""

from __future__ import annotations

from pathlib import Path

import pytest

from immich_trio.actors.thumbnailer.sniff import decodes_as_raw, plain_image_format

TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 24


@pytest.mark.parametrize(
    ("name", "head", "raw"),
    [
        ("photo.arw", b"\x89PNG\r\n\x1a\n" + b"\x00" * 24, False),
        ("photo.dng", b"\xff\xd8\xff\xe0" + b"\x00" * 24, False),
        ("photo.cr2", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", False),
        ("photo.nef", b"RIFF\x10\x00\x00\x00WEBPVP8 ", False),
        ("photo.dng", TIFF, True),  # DNG, ARW, NEF, CR2 start like any TIFF
        ("photo.tif", TIFF, False),
        ("photo.jpg", b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", True),  # Canon CR3
        ("photo.jpg", b"FUJIFILMCCD-RAW 0201FF383501", True),  # Fujifilm RAF
        ("photo.png", b"IIU\x00\x18\x00\x00\x00" + b"\x00" * 24, True),  # Panasonic RW2
        ("photo.orf", b"\x00" * 32, True),  # unknown content: the RAW extension decides
        ("photo.png", b"\x00" * 32, False),
    ],
)
def test_raw_decoder_only_for_raw_content(name: str, head: bytes, raw: bool) -> None:
    assert decodes_as_raw(Path(name), head) is raw


def test_test_assets_are_recognised_by_content(test_assets: Path) -> None:
    found = {
        (path.suffix.lower(), plain_image_format(path.read_bytes()[:64]))
        for path in (test_assets / "formats").rglob("*.*")
    }
    assert found == {
        (".jpg", "JPEG"), (".jpeg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"),
        (".heic", "HEIF"), (".avif", "HEIF"), (".jxl", "JXL"),
    }  # fmt: skip
