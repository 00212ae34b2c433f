"""The Dolby Vision configuration record of a video stream, read from the MP4/MOV boxes.

Immich's ffprobe reports it as the stream's "DOVI configuration record" side data
(``dv_profile``, ``dv_level``, ``dv_bl_signal_compatibility_id``), which FFmpeg's MOV demuxer
takes from the ``dvcC``/``dvvC``/``dvwC`` box inside the track's sample entry. PyAV does not
expose stream side data, so the box is read here, with the same field layout
(ETSI TS 103 572 / Dolby's ISOBMFF spec): version major (8 bits), minor (8), profile (7),
level (6), RPU/EL/BL present flags (1 each), base-layer signal compatibility id (4).

Only the ``moov`` box is read (top-level boxes are skipped by their sizes, so ``mdat`` is
never read). FFmpeg creates one stream per ``trak`` in file order, so the n-th track is
stream n. Anything malformed answers None: Immich's probe then has no record either.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

import attrs

DOVI_BOXES = frozenset({b"dvcC", b"dvvC", b"dvwC"})
#: Bytes of a VisualSampleEntry's own fields before its child boxes (ISO 14496-12 §12.1.3).
VISUAL_SAMPLE_ENTRY_FIELDS = 78
MAX_MOOV_BYTES = 64 * 1024 * 1024


@attrs.frozen(kw_only=True)
class DoviRecord:
    profile: int
    level: int
    bl_signal_compatibility_id: int


def parse_dovi_record(payload: bytes) -> DoviRecord | None:
    """The fields of a ``dvcC``/``dvvC``/``dvwC`` payload (None when too short)."""
    if len(payload) < 5:
        return None
    bits = (payload[2] << 8) | payload[3]
    return DoviRecord(
        profile=(bits >> 9) & 0x7F,
        level=(bits >> 3) & 0x3F,
        bl_signal_compatibility_id=(payload[4] >> 4) & 0x0F,
    )


def read_dovi_record(path: str, stream_index: int) -> DoviRecord | None:
    """The record of stream ``stream_index`` of an MP4/MOV file, or None (no record, another
    container, a damaged file)."""
    try:
        with open(path, "rb") as f:
            moov = _top_level_payload(f, b"moov")
    except OSError:
        return None
    if moov is None:
        return None
    traks = [payload for kind, payload in _boxes(moov) if kind == b"trak"]
    if stream_index >= len(traks):
        return None
    stsd = _descend(traks[stream_index], (b"mdia", b"minf", b"stbl", b"stsd"))
    if stsd is None or len(stsd) < 8:
        return None
    for _kind, entry in _boxes(stsd[8:]):  # after version/flags and the entry count
        for kind, payload in _boxes(entry[VISUAL_SAMPLE_ENTRY_FIELDS:]):
            if kind in DOVI_BOXES:
                return parse_dovi_record(payload)
        return None  # only the first sample entry describes the stream
    return None


def _top_level_payload(f: BinaryIO, wanted: bytes) -> bytes | None:
    while True:
        header = f.read(8)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            large = f.read(8)
            if len(large) < 8:
                return None
            (size,) = struct.unpack(">Q", large)
            header_size = 16
        if kind == wanted:
            length = size - header_size if size else MAX_MOOV_BYTES
            if length < 0 or length > MAX_MOOV_BYTES:
                return None
            return f.read(length)
        if size == 0 or size < header_size:
            return None  # runs to the end of the file, or damaged
        f.seek(size - header_size, 1)


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (type, payload) of each box in ``data``; stops at the first damaged header."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        header_size = 8
        if size == 1:
            if offset + 16 > len(data):
                return
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header_size = 16
        elif size == 0:
            size = len(data) - offset
        if size < header_size or offset + size > len(data):
            return
        yield kind, data[offset + header_size : offset + size]
        offset += size


def _descend(data: bytes, path: tuple[bytes, ...]) -> bytes | None:
    for wanted in path:
        found = next((payload for kind, payload in _boxes(data) if kind == wanted), None)
        if found is None:
            return None
        data = found
    return data
