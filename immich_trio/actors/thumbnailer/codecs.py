"""Decode a photo once, shrinking on load, and write Immich's preview, thumbnail and optional
fullsize files plus the thumbhash (pipeline.md §5). Synchronous and thread-safe: the actor
runs ``render_image_thumbnails`` in a codec worker process (workers.py) and writes its
outputs itself.

Decoders: JPEGs that need shrinking go through libvips (DCT shrink + lanczos3, see
vips_jpeg.py); everything else through Pillow, with pillow-heif for HEIC/HEIF and
pillow-jxl-plugin for JPEG XL; rawpy for camera RAW; pyvips for PQ/HLG AVIF, which Pillow
only delivers as 8 bits. Orientation, colour, alpha and encoding are done in Pillow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin with Pillow)
import pyvips
from PIL import Image

from .budget import STREAMABLE, decode_budget, decode_cost, load_streamed, refuse
from .colour import (
    PRIMARIES_BT709,
    Cicp,
    display_p3_icc,
    is_srgb_profile,
    read_cicp,
    rgb_icc,
    tone_map_hdr,
    transform_to,
)
from .container import isobmff_truncated
from .encode import encode as _encode
from .encode import with_orientation as _with_orientation
from .files import write_all
from .options import Colorspace, Rendered, ThumbnailError, ThumbnailOptions, ThumbnailResult
from .raw import decode_raw
from .sizing import fit_inside, fit_outside, resize
from .sniff import decodes_as_raw
from .thumbhash import MAX_SIDE as THUMBHASH_MAX_SIDE
from .thumbhash import rgba_to_thumbhash
from .vips_jpeg import load_jpeg_shrunk

Edit = Callable[[Image.Image], Image.Image]
"""A transformation of the oriented full-size image (edits.py)."""

__all__ = [
    "WEB_SUPPORTED_EXTENSIONS",
    "Edit",
    "generate_image_thumbnails",
    "needs_fullsize",
    "render_image_thumbnails",
]

pillow_heif.register_heif_opener()
# Pillow's bomb check would reject big panoramas, which Immich accepts; the decode memory
# budget (budget.py) streams those and refuses only what cannot be decoded within it.
Image.MAX_IMAGE_PIXELS = None
# libvips' operation cache would keep decoded originals alive (and serve stale pixels when a
# file is replaced under the same name); every decode here is of a different file anyway.
pyvips.cache_set_max(0)

WEB_SUPPORTED_EXTENSIONS = frozenset({".avif", ".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp"})
_HEAD_BYTES = 256 * 1024  # enough to hold a HEIF/AVIF `meta` box
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@attrs.frozen(kw_only=True)
class _Decoded:
    image: Image.Image
    """RGB, RGBA or CMYK pixels, not yet oriented, possibly shrunk on load."""
    orientation: int
    width: int
    """Unoriented full size of the source."""
    height: int
    icc: bytes | None
    """Profile of the pixels; None means sRGB."""
    embedded_jpeg: bytes | None = None
    streamed: bool = False
    """Over the memory budget: shrunk on load to the preview size, no full-size pixels."""


def needs_fullsize(source: Path, options: ThumbnailOptions) -> bool:
    """Whether Immich writes a fullsize file: enabled and the original is not web-displayable.

    (Equirectangular panoramas also get one; the caller knows the projection.)
    """
    return options.fullsize.enabled and source.suffix.lower() not in WEB_SUPPORTED_EXTENSIONS


def generate_image_thumbnails(
    source: Path,
    *,
    preview_path: Path,
    thumbnail_path: Path,
    fullsize_path: Path | None,
    options: ThumbnailOptions,
    edit: Edit | None = None,
) -> ThumbnailResult:
    """Write the preview, thumbnail (and fullsize when ``fullsize_path`` is given) of ``source``.

    ``render_image_thumbnails`` and then ``write_all`` in one call (tests, benchmarks).
    Raises ThumbnailError for unreadable input or failed writes; no output file is left
    half-written or orphaned then.
    """
    rendered = render_image_thumbnails(
        source,
        preview_path=preview_path,
        thumbnail_path=thumbnail_path,
        fullsize_path=fullsize_path,
        options=options,
        edit=edit,
    )
    write_all(rendered.outputs)
    return rendered.result


def render_image_thumbnails(
    source: Path,
    *,
    preview_path: Path,
    thumbnail_path: Path,
    fullsize_path: Path | None,
    options: ThumbnailOptions,
    edit: Edit | None = None,
) -> Rendered:
    """Decode ``source`` and encode its outputs, writing nothing (a codec worker's job).

    ``edit`` (with a ``fullsize_path``) transforms the oriented full-size pixels first: the
    outputs and the size in the result are those of the edited image.
    Raises ThumbnailError for unreadable input; ``__cause__`` is the MemoryError when an
    allocation failed.
    """
    try:
        outputs, result = _render(source, preview_path, thumbnail_path, fullsize_path, options, edit)
    except ThumbnailError:
        raise
    except MemoryError as exc:
        raise ThumbnailError(f"{source.name}: out of memory while decoding") from exc
    except Exception as exc:
        # Decoders raise anything from OSError to SyntaxError, struct.error or library errors
        # on corrupt input; a bad file must fail its job (once: it would fail again), not
        # the worker. A missing or unreadable original may come back: that one is retried.
        gone = isinstance(exc, (FileNotFoundError, PermissionError))
        raise ThumbnailError(
            f"{source.name}: cannot decode image: {exc}", permanent=not gone
        ) from exc
    return Rendered(outputs=tuple(outputs), result=result)


def _render(
    source: Path,
    preview_path: Path,
    thumbnail_path: Path,
    fullsize_path: Path | None,
    options: ThumbnailOptions,
    edit: Edit | None = None,
) -> tuple[list[tuple[Path, bytes]], ThumbnailResult]:
    convert_full = fullsize_path is not None
    decoded = _decode(source, None if convert_full else options.preview.size, options)
    if decoded.embedded_jpeg is not None and edit is None:
        convert_full = False  # the embedded JPEG itself becomes the fullsize file
    if decoded.streamed:
        if edit is not None:  # edits need the full-size pixels
            raise refuse(source.name, decoded.width, decoded.height, decode_budget())
        convert_full = False
    target: Colorspace = "srgb" if is_srgb_profile(decoded.icc) else options.colorspace
    out_icc = display_p3_icc() if target == "p3" else None
    swap = decoded.orientation in (5, 6, 7, 8)
    width, height = (decoded.height, decoded.width) if swap else (decoded.width, decoded.height)

    outputs: list[tuple[Path, bytes]] = []
    fullsize_size: tuple[int, int] | None = None
    image = _normalise_mode(decoded.image)
    if convert_full:
        image = _convert(_orient(image, decoded.orientation), decoded.icc, target)
        if edit is not None:
            image = edit(image)
            width, height = image.size
        preview = resize(image, fit_outside(width, height, options.preview.size))
        fo = options.fullsize
        assert fullsize_path is not None
        outputs.append(
            (fullsize_path, _encode(image, fo.format, fo.quality, fo.progressive, out_icc))
        )
        fullsize_size = image.size
    else:
        pw, ph = fit_outside(width, height, options.preview.size)
        preview = resize(image, (ph, pw) if swap else (pw, ph))
        preview = _convert(_orient(preview, decoded.orientation), decoded.icc, target)
        if fullsize_path is not None and decoded.embedded_jpeg is not None:
            outputs.append(
                (fullsize_path, _with_orientation(decoded.embedded_jpeg, decoded.orientation))
            )
            fullsize_size = (width, height)
    thumbnail = resize(preview, fit_outside(width, height, options.thumbnail.size))
    po, to = options.preview, options.thumbnail
    outputs.append((preview_path, _encode(preview, po.format, po.quality, po.progressive, out_icc)))
    outputs.append(
        (thumbnail_path, _encode(thumbnail, to.format, to.quality, to.progressive, out_icc))
    )

    small = resize(thumbnail, fit_inside(*thumbnail.size, THUMBHASH_MAX_SIDE)).convert("RGBA")
    result = ThumbnailResult(
        width=width,
        height=height,
        preview_path=preview_path,
        preview_size=preview.size,
        thumbnail_path=thumbnail_path,
        thumbnail_size=thumbnail.size,
        fullsize_path=fullsize_path if fullsize_size is not None else None,
        fullsize_size=fullsize_size,
        thumbhash=rgba_to_thumbhash(small.width, small.height, small.tobytes()),
        is_transparent=image.mode == "RGBA",
        colorspace=target,
        used_embedded_preview=decoded.embedded_jpeg is not None,
    )
    return outputs, result


# -- decoding ---------------------------------------------------------------------------------


def _decode(source: Path, short_side: int | None, options: ThumbnailOptions) -> _Decoded:
    # The content, not the name, picks the decoder (sniff.py).
    with source.open("rb") as f:
        head = f.read(_HEAD_BYTES)
        raw = decodes_as_raw(source, head)
        is_isobmff = not raw and head[4:8] == b"ftyp"
        if is_isobmff and isobmff_truncated(f, os.fstat(f.fileno()).st_size):
            raise ThumbnailError(f"{source.name}: file is truncated (incomplete HEIF/AVIF data)")
    if raw:
        decoded = decode_raw(
            source,
            short_side=short_side,
            min_embedded=options.preview.size,
            extract_embedded=options.extract_embedded,
        )
        return _Decoded(
            image=decoded.image,
            orientation=decoded.orientation,
            width=decoded.full_width,
            height=decoded.full_height,
            icc=None,
            embedded_jpeg=decoded.embedded_jpeg,
        )
    if head[:3] == b"\xff\xd8\xff" and short_side is not None:
        shrunk = _decode_jpeg_fast(source, short_side)
        if shrunk is not None:
            return shrunk
    cicp = read_cicp(head) if is_isobmff else None
    if cicp is not None and cicp.is_hdr:
        return _decode_hdr(source, cicp, short_side)
    image = Image.open(source)  # reads the header only
    width, height = image.size
    budget = decode_budget()
    if decode_cost(image.format, width, height, short_side) > budget:
        fmt = image.format
        image.close()
        if fmt not in STREAMABLE:
            raise refuse(source.name, width, height, budget)
        short = short_side or options.preview.size
        streamed = load_streamed(source, fit_outside(width, height, short))
        return _Decoded(
            image=streamed.image,
            orientation=streamed.orientation if streamed.orientation in _TRANSPOSE else 1,
            width=width,
            height=height,
            icc=streamed.icc,
            streamed=True,
        )
    if image.format in ("HEIF", "AVIF"):
        orientation = 1  # HEIF ignores EXIF orientation; the decoder applied irot/imir
    else:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
        orientation = orientation if orientation in _TRANSPOSE else 1
    if image.format == "JPEG" and short_side is not None and min(width, height) > short_side:
        # Ask for the aspect-correct size so libjpeg can use its largest DCT scale (1/8..1/2).
        scale = short_side / min(width, height)
        image.draft(image.mode, (max(1, int(width * scale)), max(1, int(height * scale))))
    image.load()
    icc = image.info.get("icc_profile") or None
    if icc is None and cicp is not None and not cicp.is_srgb:
        icc = _cicp_profile(cicp)
    return _Decoded(image=image, orientation=orientation, width=width, height=height, icc=icc)


def _decode_jpeg_fast(source: Path, short_side: int) -> _Decoded | None:
    shrunk = load_jpeg_shrunk(source, lambda w, h: fit_outside(w, h, short_side))
    if shrunk is None:
        return None
    orientation = shrunk.orientation if shrunk.orientation in _TRANSPOSE else 1
    return _Decoded(
        image=shrunk.image,
        orientation=orientation,
        width=shrunk.width,
        height=shrunk.height,
        icc=shrunk.icc,
    )


def _cicp_profile(cicp: Cicp) -> bytes | None:
    if cicp.primaries == PRIMARIES_BT709:
        return None
    try:
        return rgb_icc(cicp.primaries, f"CICP primaries {cicp.primaries}")
    except KeyError:
        return None  # unknown primaries: treat as sRGB


def _decode_hdr(source: Path, cicp: Cicp, short_side: int | None) -> _Decoded:
    """PQ/HLG HEIF or AVIF: shrink the signal, then tone-map to SDR in its own primaries."""
    alpha: np.ndarray | None = None
    try:
        vimage = pyvips.Image.new_from_file(str(source))
        width, height = vimage.width, vimage.height
        budget = decode_budget()
        if decode_cost(None, width, height, None) * 2 > budget:  # 16-bit samples
            raise refuse(source.name, width, height, budget)
        if short_side is not None and min(width, height) > short_side:
            vimage = vimage.resize(short_side / min(width, height), kernel="lanczos3")
        wide = vimage.format == "ushort"
        pixels = np.ndarray(
            buffer=vimage.write_to_memory(),
            dtype=np.uint16 if wide else np.uint8,
            shape=(vimage.height, vimage.width, vimage.bands),
        )
        max_code = 65535 if wide else 255
    except ThumbnailError:
        raise
    except Exception:
        # No libheif decoder for this file in libvips (HEVC): take Pillow's 8-bit pixels.
        opened = Image.open(source)
        width, height = opened.size
        if decode_cost(None, width, height, None) > decode_budget():
            raise refuse(source.name, width, height, decode_budget()) from None
        pil = opened.convert("RGBA" if "A" in opened.mode else "RGB")
        if short_side is not None and min(width, height) > short_side:
            pil = resize(pil, fit_outside(width, height, short_side))
        pixels = np.asarray(pil)
        max_code = 255
    if pixels.shape[-1] == 4:
        alpha = (pixels[..., 3] >> 8).astype(np.uint8) if max_code == 65535 else pixels[..., 3]
    rgb = tone_map_hdr(np.ascontiguousarray(pixels[..., :3]), max_code, cicp.transfer)
    image = Image.fromarray(rgb, "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha, "L"))
    return _Decoded(image=image, orientation=1, width=width, height=height, icc=_cicp_profile(cicp))


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA (only when something is actually transparent) or CMYK."""
    mode = image.mode
    if mode in ("RGB", "CMYK"):
        return image
    if mode.startswith("I") or mode == "F":
        data = np.asarray(image).astype(np.float64)
        if data.max(initial=0) > 255:
            data = data / 257.0
        image = Image.fromarray(np.clip(data + 0.5, 0, 255).astype(np.uint8), "L")
        mode = "L"
    has_alpha = mode in ("RGBA", "LA", "La", "PA", "RGBa") or (
        mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[0] == 255:
            return image.convert("RGB")
        return image
    return image.convert("RGB")


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def _convert(image: Image.Image, icc: bytes | None, target: Colorspace) -> Image.Image:
    """To ``target`` (from the source profile) and to RGB/RGBA."""
    space = icc[16:20] if icc and len(icc) >= 20 else b""
    if image.mode == "CMYK":
        if space == b"CMYK":
            return transform_to(image, icc, target)  # type: ignore[arg-type]
        return image.convert("RGB")
    if icc is None or space != b"RGB " or (target == "srgb" and is_srgb_profile(icc)):
        return image  # sRGB already, or a profile (e.g. grey) that does not fit the pixels
    return transform_to(image, icc, target)
