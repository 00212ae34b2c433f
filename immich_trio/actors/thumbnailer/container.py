"""Container checks that decoders skip: libheif fills the tiles of a truncated HEIF/AVIF file
with green instead of failing, so a cut-off upload would silently get a broken preview."""

from __future__ import annotations

import struct
from typing import BinaryIO

__all__ = ["isobmff_truncated"]


def isobmff_truncated(f: BinaryIO, file_size: int) -> bool:
    """True when the file ends inside its first ``mdat`` box or a box before it.

    Whatever follows the first complete ``mdat`` (a motion photo's video, vendor trailers)
    is not checked: it does not hold the still image.
    """
    pos = 0
    while pos + 8 <= file_size:
        f.seek(pos)
        header = f.read(16)
        size, kind = struct.unpack_from(">I4s", header)
        if size == 1 and len(header) == 16:
            size = struct.unpack_from(">Q", header, 8)[0]
        elif size == 0:
            return False  # the box runs to the end of the file by definition
        if size < 8 or pos + size > file_size:
            return True
        if kind == b"mdat":
            return False
        pos += size
    return pos != file_size
