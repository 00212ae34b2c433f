"""Inputs and outputs of the image thumbnail functions: options from the system config's
``image`` section, the result, and the one error type they raise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

__all__ = [
    "Colorspace",
    "FullsizeOptions",
    "ImageFormat",
    "OutputOptions",
    "Rendered",
    "ThumbnailError",
    "ThumbnailOptions",
    "ThumbnailResult",
]

ImageFormat = Literal["jpeg", "webp"]
Colorspace = Literal["srgb", "p3"]


class ThumbnailError(Exception):
    """The source could not be turned into thumbnails; ``reason`` says why, for the job log.

    Nothing is left on disk when this is raised. ``permanent`` says the same file would fail
    the same way again (undecodable content, over the memory budget), so no retry.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a codec worker process and re-raised here: keep ``permanent`` across pickle.
        return (_rebuild_error, (self.reason, self.permanent))


def _rebuild_error(reason: str, permanent: bool) -> ThumbnailError:
    return ThumbnailError(reason, permanent=permanent)


def _check_format(value: str) -> ImageFormat:
    if value == "jpeg":
        return "jpeg"
    if value == "webp":
        return "webp"
    raise ValueError(f"unsupported image format {value!r} (jpeg or webp)")


@attrs.frozen(kw_only=True)
class OutputOptions:
    """One generated file: its format, size rule and encoder settings."""

    format: ImageFormat
    size: int
    """Length of the *short* side (Immich resizes with fit=outside), never enlarged."""
    quality: int = 80
    progressive: bool = False


@attrs.frozen(kw_only=True)
class FullsizeOptions:
    enabled: bool = False
    format: ImageFormat = "jpeg"
    quality: int = 80
    progressive: bool = False


@attrs.frozen(kw_only=True)
class ThumbnailOptions:
    """The ``image`` section of the system config, with Immich's defaults."""

    thumbnail: OutputOptions = OutputOptions(format="webp", size=250)
    preview: OutputOptions = OutputOptions(format="jpeg", size=1440)
    colorspace: Colorspace = "p3"
    """Output colour space for sources that are not sRGB (sRGB sources stay sRGB)."""
    extract_embedded: bool = False
    fullsize: FullsizeOptions = FullsizeOptions()

    @classmethod
    def from_config(cls, image: Mapping[str, Any]) -> ThumbnailOptions:
        """Build from the JSON ``image`` section (camelCase keys, missing keys = defaults)."""

        def output(raw: Mapping[str, Any], default: OutputOptions) -> OutputOptions:
            return OutputOptions(
                format=_check_format(raw.get("format", default.format)),
                size=int(raw.get("size", default.size)),
                quality=int(raw.get("quality", default.quality)),
                progressive=bool(raw.get("progressive", default.progressive)),
            )

        default = cls()
        full = image.get("fullsize", {})
        colorspace = image.get("colorspace", default.colorspace)
        if colorspace not in ("srgb", "p3"):
            raise ValueError(f"unsupported colorspace {colorspace!r} (srgb or p3)")
        return cls(
            thumbnail=output(image.get("thumbnail", {}), default.thumbnail),
            preview=output(image.get("preview", {}), default.preview),
            colorspace=colorspace,
            extract_embedded=bool(image.get("extractEmbedded", default.extract_embedded)),
            fullsize=FullsizeOptions(
                enabled=bool(full.get("enabled", default.fullsize.enabled)),
                format=_check_format(full.get("format", default.fullsize.format)),
                quality=int(full.get("quality", default.fullsize.quality)),
                progressive=bool(full.get("progressive", default.fullsize.progressive)),
            ),
        )


@attrs.frozen(kw_only=True)
class ThumbnailResult:
    width: int
    """Width of the source as displayed (EXIF orientation applied)."""
    height: int
    preview_path: Path
    preview_size: tuple[int, int]
    thumbnail_path: Path
    thumbnail_size: tuple[int, int]
    fullsize_path: Path | None
    fullsize_size: tuple[int, int] | None
    thumbhash: bytes
    is_transparent: bool
    """The source has visible transparency (lost in JPEG outputs, kept in WebP)."""
    colorspace: Colorspace
    """Colour space of the pixels written (an ICC profile is embedded for p3)."""
    used_embedded_preview: bool = False
    """A RAW file's embedded JPEG was decoded instead of the sensor data."""


@attrs.frozen(kw_only=True)
class Rendered:
    """Encoded files not yet written, and the result they make once written (files.write_all).

    Codec workers answer with this, so only the server process writes into ``thumbs/``: a
    worker killed mid-job leaves no file, not even a temporary one.
    """

    outputs: tuple[tuple[Path, bytes], ...]
    result: ThumbnailResult
