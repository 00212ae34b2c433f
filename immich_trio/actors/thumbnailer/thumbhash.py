"""ThumbHash placeholders: encode an RGBA image of at most 100x100 into ~25 bytes, and decode.

Written from the public description of Evan Wallace's ThumbHash: the image is turned into
luminance (L), two chroma channels (P, Q) and alpha (A), each is reduced to a few DCT
coefficients, and the coefficients are quantised into a 5- or 6-byte header plus 4-bit ACs.
Immich stores the raw bytes in ``asset.thumbhash``; web and mobile clients decode them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_SIDE",
    "rgba_to_thumbhash",
    "thumbhash_to_approx_aspect_ratio",
    "thumbhash_to_average_rgba",
    "thumbhash_to_rgba",
]

MAX_SIDE = 100
"""Largest width or height the encoder accepts."""

_FloatArray = npt.NDArray[np.float64]


def _round(x: float) -> int:
    # JavaScript's Math.round (half up), which the reference encoder uses; Python's round()
    # rounds half to even and would give other bytes for exact halves.
    return math.floor(x + 0.5)


def _cosines(n: int, count: int) -> _FloatArray:
    """Row k holds cos(pi / n * k * (i + 0.5)) for i in range(n)."""
    k = np.arange(count, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :] + 0.5
    return np.asarray(np.cos(np.pi / n * k * i), dtype=np.float64)


def _triangle(nx: int, ny: int) -> list[tuple[int, int]]:
    """(cy, cx) of the coefficients kept for an nx x ny channel, DC first, in hash order."""
    return [(cy, cx) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)]


def _encode_channel(channel: _FloatArray, nx: int, ny: int) -> tuple[float, list[float], float]:
    h, w = channel.shape
    # All 2-D DCT coefficients at once: Cy (ny x h) @ channel (h x w) @ Cx^T (w x nx).
    coeffs = _cosines(h, ny) @ channel @ _cosines(w, nx).T / (w * h)
    dc = 0.0
    ac: list[float] = []
    scale = 0.0
    for cy, cx in _triangle(nx, ny):
        f = float(coeffs[cy, cx])
        if cx or cy:
            ac.append(f)
            scale = max(scale, abs(f))
        else:
            dc = f
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def rgba_to_thumbhash(width: int, height: int, rgba: bytes | npt.NDArray[np.uint8]) -> bytes:
    """Encode ``width`` x ``height`` RGBA pixels (8 bits, row-major) into a ThumbHash."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(
            f"thumbhash needs an image of at most {MAX_SIDE}x{MAX_SIDE}, got {width}x{height}"
        )
    pixels = np.frombuffer(rgba, dtype=np.uint8) if isinstance(rgba, bytes) else rgba
    if pixels.size != width * height * 4:
        raise ValueError(f"expected {width * height * 4} RGBA bytes, got {pixels.size}")
    px = pixels.reshape(height, width, 4).astype(np.float64) / 255.0
    rgb = px[..., :3]
    alpha = px[..., 3]

    total_alpha = float(alpha.sum())
    if total_alpha > 0:
        avg = (rgb * alpha[..., None]).sum(axis=(0, 1)) / total_alpha
    else:
        avg = np.zeros(3)
    has_alpha = total_alpha < width * height
    l_limit = 5 if has_alpha else 7  # fewer luminance coefficients when alpha needs room
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))

    # Composite onto the average colour so transparent pixels do not drag colours to black.
    comp = avg[None, None, :] * (1.0 - alpha[..., None]) + rgb * alpha[..., None]
    r, g, b = comp[..., 0], comp[..., 1], comp[..., 2]
    l_chan = (r + g + b) / 3.0
    p_chan = (r + g) / 2.0 - b
    q_chan = r - g

    l_dc, l_ac, l_scale = _encode_channel(l_chan, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(p_chan, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(q_chan, 3, 3)
    a_dc, a_ac, a_scale = _encode_channel(alpha, 5, 5) if has_alpha else (1.0, [], 1.0)

    is_landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | _round(31.5 + 31.5 * p_dc) << 6
        | _round(31.5 + 31.5 * q_dc) << 12
        | _round(31 * l_scale) << 18
        | int(has_alpha) << 23
    )
    header16 = (
        (ly if is_landscape else lx)
        | _round(63 * p_scale) << 3
        | _round(63 * q_scale) << 9
        | int(is_landscape) << 15
    )
    out = bytearray(
        [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    )
    if has_alpha:
        out.append(_round(15 * a_dc) | _round(15 * a_scale) << 4)
    nibbles = [_round(15 * f) for f in (*l_ac, *p_ac, *q_ac, *a_ac)]
    for i in range(0, len(nibbles), 2):
        low = nibbles[i]
        high = nibbles[i + 1] if i + 1 < len(nibbles) else 0
        out.append(low | high << 4)
    return bytes(out)


def _header(thumbhash: bytes) -> tuple[int, int, bool, bool]:
    if len(thumbhash) < 5:
        raise ValueError("a thumbhash has at least 5 bytes")
    header24 = thumbhash[0] | thumbhash[1] << 8 | thumbhash[2] << 16
    header16 = thumbhash[3] | thumbhash[4] << 8
    return header24, header16, bool(header24 >> 23), bool(header16 >> 15)


def _lpq_to_rgb(
    lum: float | _FloatArray, p: float | _FloatArray, q: float | _FloatArray
) -> tuple[float | _FloatArray, float | _FloatArray, float | _FloatArray]:
    b = lum - 2.0 / 3.0 * p
    r = (3.0 * lum - b + q) / 2.0
    return r, r - q, b


def thumbhash_to_average_rgba(thumbhash: bytes) -> tuple[float, float, float, float]:
    """The average colour (r, g, b, a in 0..1) a ThumbHash encodes."""
    header24, _, has_alpha, _ = _header(thumbhash)
    lum = (header24 & 63) / 63
    p = ((header24 >> 6) & 63) / 31.5 - 1
    q = ((header24 >> 12) & 63) / 31.5 - 1
    a = (thumbhash[5] & 15) / 15 if has_alpha else 1.0
    r, g, b = _lpq_to_rgb(lum, p, q)
    return (
        min(1.0, max(0.0, float(r))),
        min(1.0, max(0.0, float(g))),
        min(1.0, max(0.0, float(b))),
        a,
    )


def thumbhash_to_approx_aspect_ratio(thumbhash: bytes) -> float:
    """Width / height of the encoded image, as far as the hash remembers it."""
    _, header16, has_alpha, is_landscape = _header(thumbhash)
    l_limit = 5 if has_alpha else 7
    lx = l_limit if is_landscape else header16 & 7
    ly = header16 & 7 if is_landscape else l_limit
    return lx / ly


def thumbhash_to_rgba(thumbhash: bytes) -> tuple[int, int, bytes]:
    """Decode a ThumbHash into a small (at most 32 px) RGBA image: (width, height, pixels)."""
    header24, header16, has_alpha, is_landscape = _header(thumbhash)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    l_limit = 5 if has_alpha else 7
    lx = max(3, l_limit if is_landscape else header16 & 7)
    ly = max(3, header16 & 7 if is_landscape else l_limit)
    a_dc = (thumbhash[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (thumbhash[5] >> 4) / 15 if has_alpha else 0.0
    ac_start = 6 if has_alpha else 5
    index = 0

    def read_ac(nx: int, ny: int, scale: float) -> _FloatArray:
        nonlocal index
        coeffs = np.zeros((ny, nx))
        for cy, cx in _triangle(nx, ny)[1:]:
            pos = ac_start + (index >> 1)
            nibble = (thumbhash[pos] >> ((index & 1) << 2)) & 15 if pos < len(thumbhash) else 0
            coeffs[cy, cx] = (nibble / 7.5 - 1) * scale
            index += 1
        return coeffs

    l_ac = read_ac(lx, ly, l_scale)
    p_ac = read_ac(3, 3, p_scale * 1.25)
    q_ac = read_ac(3, 3, q_scale * 1.25)
    a_ac = read_ac(5, 5, a_scale) if has_alpha else None

    ratio = thumbhash_to_approx_aspect_ratio(thumbhash)
    w = _round(32 if ratio > 1 else 32 * ratio)
    h = _round(32 / ratio if ratio > 1 else 32)

    def synth(coeffs: _FloatArray, dc: float) -> _FloatArray:
        ny, nx = coeffs.shape
        fy = _cosines(h, ny).T * 2.0  # h x ny; the 2 is the inverse DCT normalisation
        fx = _cosines(w, nx)  # nx x w
        return dc + fy @ coeffs @ fx

    lum = synth(l_ac, l_dc)
    p = synth(p_ac, p_dc)
    q = synth(q_ac, q_dc)
    a = synth(a_ac, a_dc) if a_ac is not None else np.ones((h, w))
    r, g, b = _lpq_to_rgb(lum, p, q)
    stacked = np.stack([r, g, b, a], axis=-1)
    pixels = np.clip(np.rint(stacked * 255.0), 0, 255).astype(np.uint8)
    return w, h, pixels.tobytes()
