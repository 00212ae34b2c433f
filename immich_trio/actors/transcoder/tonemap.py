"""HDR → SDR for transcoding, as Immich asks FFmpeg for it: ``tonemapx=tonemap=<curve>:desat=0:
p=bt709:t=bt709:m=bt709:r=pc:peak=100:format=yuv420p``.

Light is linear and relative to 100 nits (PQ through its EOTF; HLG through the BT.2100 OOTF for
a 1000-nit display), BT.2020 primaries are converted to BT.709, then ``max(R, G, B)`` is mapped
with FFmpeg's curve of the setting (``hable``, ``mobius``, ``reinhard``, against a signal peak
of 100 as Immich passes it) and the three channels are scaled alike (no desaturation). The
result is BT.709-encoded, full range. Look-up tables keep a 720p frame at tens of ms.
"""

from __future__ import annotations

import functools

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorRange, Colorspace

__all__ = ["CURVES", "HDR_TRANSFERS", "tone_map_frame", "tone_map_to_sdr"]

PEAK = 100.0
"""Immich's ``peak=100``: the signal peak, in units of 100 nits."""
REFERENCE_NITS = 100.0
TRANSFER_PQ, TRANSFER_HLG = 16, 18
HDR_TRANSFERS = frozenset({TRANSFER_PQ, TRANSFER_HLG})
_OETF_STEPS = 65535
# BT.2020 → BT.709 in linear light (ITU-R BT.2087).
BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], dtype=np.float32
)
F32 = npt.NDArray[np.float32]


def _hable_raw(x: F32) -> F32:
    a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
    return np.asarray((x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f) - e / f, dtype=np.float32)


def hable(sig: F32, peak: float = PEAK) -> F32:
    top = _hable_raw(np.array([peak], dtype=np.float32))[0]
    return np.asarray(_hable_raw(sig) / top, dtype=np.float32)


def mobius(sig: F32, peak: float = PEAK, j: float = 0.3) -> F32:
    a = -j * j * (peak - 1.0) / (j * j - 2.0 * j + peak)
    b = (j * j - 2.0 * j * peak + peak) / max(peak - 1.0, 1e-6)
    curved = (b * b + 2.0 * b * j + j * j) / (b - a) * (sig + a) / (sig + b)
    return np.asarray(np.where(sig <= j, sig, curved), dtype=np.float32)


def reinhard(sig: F32, peak: float = PEAK, offset: float = 1.0) -> F32:
    return np.asarray(sig / (sig + offset) * (peak + offset) / peak, dtype=np.float32)


CURVES = {"hable": hable, "mobius": mobius, "reinhard": reinhard}


@functools.lru_cache(maxsize=4)
def _linear_lut(transfer: int) -> F32:
    """16-bit code value → linear light, 1.0 = 100 nits."""
    e = np.arange(65536, dtype=np.float64) / 65535.0
    if transfer == TRANSFER_HLG:
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        scene = np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0)
        # OOTF for a 1000-nit display, gamma 1.2 (applied per channel here: its luma form needs
        # all three channels, and the difference stays under the 8-bit step for greys).
        return np.asarray(np.power(scene, 1.2) * (1000.0 / REFERENCE_NITS), dtype=np.float32)
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    p = np.power(e, 1.0 / m2)
    nits = 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)
    return np.asarray(nits / REFERENCE_NITS, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _bt709_oetf_lut() -> npt.NDArray[np.uint8]:
    """Linear 0..1 in 65536 steps → 8-bit BT.709 code value (full range)."""
    x = np.arange(_OETF_STEPS + 1, dtype=np.float64) / _OETF_STEPS
    v = np.where(x < 0.018, 4.5 * x, 1.099 * np.power(x, 0.45) - 0.099)
    return np.asarray(np.clip(np.round(v * 255.0), 0, 255), dtype=np.uint8)


_RATIO_STEPS = 65535
_SIG_MAX = 100.0
"""Largest linear value a signal can carry (PQ: 10000 nits), the top of the ratio table."""


@functools.lru_cache(maxsize=8)
def _ratio_lut(curve: str) -> F32:
    """curve(sig) / sig, indexed by sqrt(sig / _SIG_MAX) in 65536 steps (fine near black)."""
    sig = np.square(np.arange(_RATIO_STEPS + 1, dtype=np.float32) / np.float32(_RATIO_STEPS)) * np.float32(_SIG_MAX)
    sig = np.maximum(sig, np.float32(1e-6))
    return np.asarray(CURVES.get(curve, hable)(sig) / sig, dtype=np.float32)


def tone_map_frame(signal: npt.NDArray[np.uint16], transfer: int, curve: str) -> npt.NDArray[np.uint8]:
    """HxWx3 16-bit R'G'B' (BT.2020, PQ or HLG) → HxWx3 8-bit R'G'B' (BT.709, SDR)."""
    linear = _linear_lut(transfer)[signal]
    src = [linear[..., i] for i in range(3)]
    rgb = []
    for row in BT2020_TO_BT709:
        channel = src[0] * row[0]
        channel += src[1] * row[1]
        channel += src[2] * row[2]
        np.maximum(channel, np.float32(0.0), out=channel)
        rgb.append(channel)
    sig = np.maximum(np.maximum(rgb[0], rgb[1]), rgb[2])
    np.minimum(sig, np.float32(_SIG_MAX), out=sig)
    sig *= np.float32(1.0 / _SIG_MAX)
    np.sqrt(sig, out=sig)
    sig *= np.float32(_RATIO_STEPS)
    sig += np.float32(0.5)
    ratio = _ratio_lut(curve)[sig.astype(np.uint16)]
    out = np.empty(signal.shape, dtype=np.uint8)
    oetf = _bt709_oetf_lut()
    for i, channel in enumerate(rgb):
        channel *= ratio
        np.clip(channel, np.float32(0.0), np.float32(1.0), out=channel)
        channel *= np.float32(_OETF_STEPS)
        channel += np.float32(0.5)
        out[..., i] = oetf[channel.astype(np.uint16)]
    return out


def tone_map_to_sdr(frame: av.VideoFrame, transfer: int, curve: str) -> av.VideoFrame:
    """An rgb48 HDR frame (PQ or HLG) → a full-range BT.709 SDR yuv420p frame, same timing."""
    signal = np.asarray(frame.to_ndarray(), dtype=np.uint16)
    out = av.VideoFrame.from_ndarray(tone_map_frame(signal, transfer, curve), format="rgb24")
    out = out.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.JPEG)
    out.pts, out.time_base = frame.pts, frame.time_base
    return out
