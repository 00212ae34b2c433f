"""Colour handling for thumbnails: ICC profiles (sRGB, Display P3, built here), CICP/nclx
signalling of HEIF/AVIF files, HDR (PQ/HLG) tone mapping and the source -> target transform.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct

import attrs
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageCms

from .options import Colorspace

__all__ = [
    "Cicp",
    "display_p3_icc",
    "is_srgb_profile",
    "read_cicp",
    "rgb_icc",
    "tone_map_hdr",
    "transform_to",
]

# CICP code points (ITU-T H.273) this module understands.
PRIMARIES_BT709 = 1
PRIMARIES_BT2020 = 9
PRIMARIES_P3 = 12
TRANSFER_PQ = 16
TRANSFER_HLG = 18

_PRIMARIES_XY: dict[int, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    PRIMARIES_BT709: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
    PRIMARIES_BT2020: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),
    PRIMARIES_P3: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
}
_D65_XY = (0.3127, 0.3290)
_D50_XYZ = (0.9642, 1.0, 0.8249)
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)
SDR_WHITE_NITS = 203.0
"""Luminance HDR content maps to SDR white (ITU-R BT.2408 reference white)."""


@attrs.frozen
class Cicp:
    primaries: int
    transfer: int
    matrix: int
    full_range: bool

    @property
    def is_hdr(self) -> bool:
        return self.transfer in (TRANSFER_PQ, TRANSFER_HLG)

    @property
    def is_srgb(self) -> bool:
        return self.primaries in (PRIMARIES_BT709, 2) and not self.is_hdr  # 2 = unspecified


def _iter_boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in data[start:end]."""
    boxes = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        boxes.append((kind, pos + header, pos + size))
        pos += size
    return boxes


def read_cicp(path_or_head: bytes) -> Cicp | None:
    """The first nclx ``colr`` property of a HEIF/AVIF file (given its first bytes)."""
    data = path_or_head
    for kind, start, end in _iter_boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        for kind2, start2, end2 in _iter_boxes(data, start + 4, end):  # meta is a full box
            if kind2 != b"iprp":
                continue
            for kind3, start3, end3 in _iter_boxes(data, start2, end2):
                if kind3 != b"ipco":
                    continue
                for kind4, start4, end4 in _iter_boxes(data, start3, end3):
                    if (
                        kind4 == b"colr"
                        and end4 - start4 >= 11
                        and data[start4 : start4 + 4] == b"nclx"
                    ):
                        prim, trc, mat = struct.unpack_from(">HHH", data, start4 + 4)
                        return Cicp(prim, trc, mat, bool(data[start4 + 10] & 0x80))
    return None


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return (
        b"mluc"
        + bytes(4)
        + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28)
        + encoded
    )


def _rgb_to_xyz_d50(primaries: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(RGB -> XYZ matrix adapted to D50, the D65 -> D50 chromatic adaptation matrix)."""

    def xyz(xy: tuple[float, float]) -> npt.NDArray[np.float64]:
        x, y = xy
        return np.array([x / y, 1.0, (1 - x - y) / y])

    white = xyz(_D65_XY)
    prim = np.stack([xyz(p) for p in _PRIMARIES_XY[primaries]], axis=1)
    scale = np.linalg.solve(prim, white)
    m65 = prim * scale[None, :]
    cone_src = _BRADFORD @ white
    cone_dst = _BRADFORD @ np.array(_D50_XYZ)
    chad = np.linalg.inv(_BRADFORD) @ np.diag(cone_dst / cone_src) @ _BRADFORD
    return chad @ m65, chad


@functools.cache
def rgb_icc(primaries: int, description: str) -> bytes:
    """A compact ICC v4 matrix/TRC display profile with the sRGB transfer curve."""
    matrix, chad = _rgb_to_xyz_d50(primaries)
    trc = (
        b"para"
        + bytes(4)
        + struct.pack(">HH", 3, 0)
        + b"".join(_s15f16(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    )
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _mluc(description)),
        (b"cprt", _mluc("No copyright, use freely")),
        (b"wtpt", b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in _D50_XYZ)),
        (b"chad", b"sf32" + bytes(4) + b"".join(_s15f16(v) for v in chad.flatten())),
        (b"rXYZ", b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in matrix[:, 0])),
        (b"gXYZ", b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in matrix[:, 1])),
        (b"bXYZ", b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in matrix[:, 2])),
        (b"rTRC", trc),
    ]
    table_size = 4 + 12 * (len(tags) + 2)  # gTRC and bTRC share rTRC's data
    offset = 128 + table_size
    table = [struct.pack(">I", len(tags) + 2)]
    body = b""
    trc_offset = 0
    for sig, data in tags:
        pad = (-len(data)) % 4
        table.append(struct.pack(">4sII", sig, offset + len(body), len(data)))
        if sig == b"rTRC":
            trc_offset = offset + len(body)
        body += data + bytes(pad)
    for sig in (b"gTRC", b"bTRC"):
        table.append(struct.pack(">4sII", sig, trc_offset, len(trc)))
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x04300000, b"mntr", b"RGB ", b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, manufacturer, model, attributes, intent
        + b"".join(_s15f16(v) for v in _D50_XYZ)
        + bytes(4 + 16 + 28)  # creator, profile id, reserved
    )
    assert len(header) == 128
    return header + b"".join(table) + body


def display_p3_icc() -> bytes:
    return rgb_icc(PRIMARIES_P3, "Display P3")


def is_srgb_profile(icc: bytes | None) -> bool:
    """True when there is no profile, or its description names sRGB (Immich's test)."""
    if not icc:
        return True
    return "srgb" in _profile_description(icc).lower()


@functools.lru_cache(maxsize=64)
def _profile_description(icc: bytes) -> str:
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return ""


_SRGB = ImageCms.createProfile("sRGB")


@functools.lru_cache(maxsize=64)
def _transform(
    source_key: str, source_icc: bytes, target: Colorspace
) -> ImageCms.ImageCmsTransform:
    src = ImageCms.ImageCmsProfile(io.BytesIO(source_icc))
    dst = _SRGB if target == "srgb" else ImageCms.ImageCmsProfile(io.BytesIO(display_p3_icc()))
    # NOCACHE: lcms keeps a one-pixel cache inside a transform that is not thread-safe,
    # and these transforms are shared between worker threads.
    return ImageCms.buildTransform(
        src,
        dst,
        "RGB",
        "RGB",
        renderingIntent=ImageCms.Intent.PERCEPTUAL,
        flags=ImageCms.Flags.NOCACHE | ImageCms.Flags.BLACKPOINTCOMPENSATION,
    )


def transform_to(image: Image.Image, source_icc: bytes, target: Colorspace) -> Image.Image:
    """Convert an RGB/RGBA image from the ``source_icc`` profile to ``target``."""
    key = hashlib.blake2b(source_icc, digest_size=16).hexdigest()
    transform = _transform(key, source_icc, target)
    if image.mode == "RGBA":
        rgb = transform.apply(image.convert("RGB"))
        rgb.putalpha(image.getchannel("A"))
        return rgb
    return transform.apply(image)


def _pq_to_nits(e: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(e, 0.0, 1.0), 1 / m2)
    return np.asarray(10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1 / m1))


def _hlg_to_scene(e: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(e, 0.0, 1.0)
    with np.errstate(over="ignore"):
        return np.asarray(np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0))


_ENCODE_STEPS = 65535


@functools.cache
def _signal_lut(transfer: int, max_code: int) -> npt.NDArray[np.float32]:
    """Code value -> linear light (PQ: relative to SDR white; HLG: scene light 0..1)."""
    e = np.arange(max_code + 1, dtype=np.float64) / max_code
    linear = _pq_to_nits(e) / SDR_WHITE_NITS if transfer == TRANSFER_PQ else _hlg_to_scene(e)
    return linear.astype(np.float32)


@functools.cache
def _srgb_lut() -> npt.NDArray[np.uint8]:
    """Linear 0..1 in 65536 steps -> 8-bit sRGB-encoded value."""
    x = np.arange(_ENCODE_STEPS + 1, dtype=np.float64) / _ENCODE_STEPS
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.asarray(np.rint(encoded * 255.0), dtype=np.uint8)


def tone_map_hdr(
    signal: npt.NDArray[np.uint8] | npt.NDArray[np.uint16], max_code: int, transfer: int
) -> npt.NDArray[np.uint8]:
    """HDR code values (PQ or HLG, 0..max_code) -> 8-bit SDR with the sRGB curve, same primaries.

    Reference white (203 nits) becomes SDR white; highlights above it are compressed with an
    extended Reinhard curve on max(R, G, B), which keeps hues instead of bleaching them.
    Look-up tables keep this at a few tens of ms for a preview-sized image.
    """
    linear = _signal_lut(transfer, max_code)[signal]
    if transfer == TRANSFER_HLG:
        # OOTF for a 1000 nit display: system gamma 1.2 on luminance, then relative to 203 nits.
        luma = 0.2627 * linear[..., 0] + 0.6780 * linear[..., 1] + 0.0593 * linear[..., 2]
        gain = np.power(np.maximum(luma, 1e-6), np.float32(0.2)) * np.float32(
            1000.0 / SDR_WHITE_NITS
        )
        linear *= gain[..., None]
    m = linear.max(axis=-1)
    peak = max(float(m.max(initial=0.0)), 1.0)
    ratio = (1.0 + m / np.float32(peak * peak)) / (1.0 + m)
    linear *= ratio[..., None]
    np.clip(linear, 0.0, 1.0, out=linear)
    index = (linear * np.float32(_ENCODE_STEPS) + np.float32(0.5)).astype(np.uint16)
    return _srgb_lut()[index]
