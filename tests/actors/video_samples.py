"""Tiny videos made with PyAV for the video tests (no media ships with the tests)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

Colour = tuple[int, int, int]
#: CICP code points (ITU-T H.273) for HDR10 streams.
BT2020, PQ, BT2020_NCL = 9, 16, 9


def make_video(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    fps: int = 12,
    frames: int = 24,
    colour: Callable[[int], Colour] = lambda i: (200, 40, 40),
    rotation: int = 0,
    audio: bool = False,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int = 6,
    right: Callable[[int], Colour] | None = None,
    pq_hdr: bool = False,
) -> Path:
    """Write an MP4 whose frame ``i`` is filled with ``colour(i)`` (its right half with
    ``right(i)`` when given). ``pq_hdr`` tags the stream as HDR10 (BT.2020 primaries, PQ
    transfer): use it with ``codec="libx265", pix_fmt="yuv420p10le"``; the pixel values are
    then PQ code values."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.gop_size = gop
        if codec == "libx265":
            params = "log-level=error"
            if pq_hdr:
                params += ":colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"
            video.options = {"x265-params": params}
        if pq_hdr:
            ctx = video.codec_context
            ctx.color_primaries, ctx.color_trc, ctx.colorspace = BT2020, PQ, BT2020_NCL
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000) if audio else None
        assert sound is None or isinstance(sound, av.AudioStream)
        out.start_encoding()  # so that a 0-frame video still gets its header and track
        for i in range(frames):
            pixels = np.empty((height, width, 3), np.uint8)
            pixels[:] = colour(i)
            if right is not None:
                pixels[:, width // 2 :] = right(i)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            samples = 16000 * frames // fps
            tone = (np.sin(np.arange(samples) * 0.05) * 0.2).astype(np.float32)[None, :]
            chunk = 1024
            for start in range(0, samples, chunk):
                af = av.AudioFrame.from_ndarray(tone[:, start : start + chunk], format="fltp", layout="mono")
                af.sample_rate = 16000
                af.pts = start
                af.time_base = Fraction(1, 16000)
                out.mux(sound.encode(af))
            out.mux(sound.encode())
    return path


def make_audio_only(path: Path, *, seconds: float = 0.5) -> Path:
    """An MP4 with one AAC stream and no video stream."""
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=16000)
        assert isinstance(sound, av.AudioStream)
        samples = int(16000 * seconds)
        for start in range(0, samples, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, start, Fraction(1, 16000)
            out.mux(sound.encode(af))
        out.mux(sound.encode())
    return path
