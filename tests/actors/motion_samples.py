"""Live-photo halves and motion photos made in the test (no such media ships with the tests).

Google motion photos are a JPEG with XMP (``GCamera:MicroVideo``/``MicroVideoOffset``, or
``GCamera:MotionPhoto`` with a ``Container:Directory``) and the MP4 appended; a Samsung one
ends with the ``SEFH``/``SEFT`` trailer whose ``MotionPhoto_Data`` block holds the MP4, laid
out as exiftool's Samsung.pm reads it.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
SAMSUNG_VIDEO_BLOCK = 0x0A30
SAMSUNG_VIDEO_NAME = b"MotionPhoto_Data"


def jpeg(colour: tuple[int, int, int] = (30, 160, 60), size: tuple[int, int] = (48, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def with_xmp(still: bytes, description_attrs: str, body: str = "") -> bytes:
    """``still`` with one XMP APP1 segment right after SOI."""
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"'
        ' xmlns:Container="http://ns.google.com/photos/1.0/container/"'
        ' xmlns:Item="http://ns.google.com/photos/1.0/container/item/"'
        ' xmlns:apple="http://ns.apple.com/live/1.0/"'
        f" {description_attrs}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    payload = XMP_HEADER + packet
    assert still[:2] == b"\xff\xd8"
    return still[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + still[2:]


def mp4(*, frames: int = 12, colour: tuple[int, int, int] = (200, 40, 40), cid: str | None = None) -> bytes:
    """A small H.264 MP4/MOV; with ``cid`` it carries Apple's
    ``com.apple.quicktime.content.identifier`` key, as an iPhone's live-photo video does."""
    buf = io.BytesIO()
    options = {"movflags": "use_metadata_tags"} if cid else {}
    with av.open(buf, "w", format="mov" if cid else "mp4", options=options) as out:
        if cid:
            out.metadata["com.apple.quicktime.content.identifier"] = cid
        stream = out.add_stream("libx264", rate=12)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            pixels = np.empty((48, 64, 3), np.uint8)
            pixels[:] = colour
            pixels[:, : 2 + i] = 0  # frames differ, so two colours give two checksums
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 12)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def live_photo_still(cid: str, colour: tuple[int, int, int] = (30, 160, 60)) -> bytes:
    """A JPEG whose tags carry ``ContentIdentifier`` (what exiftool reports for an iPhone's)."""
    return with_xmp(jpeg(colour), f'apple:ContentIdentifier="{cid}"')


def micro_video(video: bytes, *, offset: int | None = None, colour: tuple[int, int, int] = (30, 160, 60)) -> bytes:
    """Google's first form: ``MicroVideo=1`` and ``MicroVideoOffset`` = bytes from the end."""
    attrs = f'GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1" GCamera:MicroVideoOffset="{offset if offset is not None else len(video)}"'
    return with_xmp(jpeg(colour), attrs) + video


def motion_photo(video: bytes, *, padding: int = 0, colour: tuple[int, int, int] = (30, 160, 60)) -> bytes:
    """Google's current form: ``MotionPhoto=1`` and a container directory whose
    ``MotionPhoto`` item gives the video's length and the padding after it."""
    body = (
        "<Container:Directory><rdf:Seq>"
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"'
        ' Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto"'
        f' Item:Length="{len(video)}" Item:Padding="{padding}"/></rdf:li>'
        "</rdf:Seq></Container:Directory>"
    )
    still = with_xmp(jpeg(colour), 'GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1"', body)
    return still + video + b"\0" * padding


def samsung_trailer(video: bytes, *, colour: tuple[int, int, int] = (30, 160, 60)) -> bytes:
    """A Samsung JPEG motion photo: XMP ``MotionPhoto=1`` and the SEF trailer."""
    body = with_xmp(jpeg(colour), 'GCamera:MotionPhoto="1"')
    block = struct.pack("<HHI", 0, SAMSUNG_VIDEO_BLOCK, len(SAMSUNG_VIDEO_NAME)) + SAMSUNG_VIDEO_NAME + video
    directory_at = len(body) + len(block)
    sefh = b"SEFH" + struct.pack("<II", 101, 1)
    sefh += struct.pack("<HHII", 0, SAMSUNG_VIDEO_BLOCK, directory_at - len(body), len(block))
    return body + block + sefh + struct.pack("<I", len(sefh)) + b"SEFT"


def decoded_frames(path: Path) -> int:
    """How many video frames PyAV decodes from the file (it raises on a non-video)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


# -- looking at files from async tests (plain calls: small files, test code) ---------------


def read_file(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size


def is_file(path: str | Path) -> bool:
    return Path(path).is_file()


def remove(path: str | Path) -> None:
    Path(path).unlink()


def absolute(path: str | Path) -> Path:
    return Path(path).absolute()


def glob(root: str | Path, pattern: str) -> list[Path]:
    return sorted(Path(root).absolute().glob(pattern))
