"""A video's preview JPEG, thumbnail WebP and thumbhash from one representative frame, with
PyAV (FFmpeg's libraries). Synchronous and thread-safe: the actor runs
``render_video_thumbnails`` in a codec worker process (workers.py) under its limiter.

Frame choice, after Immich's ffmpeg chain (pipeline.md §5: key frames only, ``thumbnail=12``
picks the frame of a batch of 12 closest to the batch's mean histogram, scene selection skips
the opening shot): key frames are decoded (every frame when there are fewer than
``MIN_KEYFRAMES``), near-black frames are dropped (fade-ins, black leaders) unless all are,
and among the first ``BATCH`` remaining the one nearest the mean luma histogram wins.

HDR (PQ or HLG transfer): the frame is read as 16-bit RGB and tone-mapped with
``colour.tone_map_hdr`` (PQ: BT.2390-style roll-off of the nits; HLG: the reference OOTF),
then converted from BT.2020 primaries to the configured colour space.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt
from PIL import Image

from .colour import PRIMARIES_BT2020, display_p3_icc, rgb_icc, tone_map_hdr, transform_to
from .encode import encode
from .files import write_all
from .options import Rendered, ThumbnailError, ThumbnailOptions, ThumbnailResult
from .sizing import fit_inside, fit_outside, resize
from .thumbhash import MAX_SIDE as THUMBHASH_MAX_SIDE
from .thumbhash import rgba_to_thumbhash

__all__ = ["generate_video_thumbnails"]

BATCH = 12
"""Frames compared at once, as ffmpeg's ``thumbnail=12``."""
MAX_CANDIDATES = 48
"""Frames scored at most: the choice is made near the start, as Immich's is."""
MIN_KEYFRAMES = 3
"""Fewer key frames than this (short clips, long GOPs): score every frame instead."""
BLACK_LUMA = 0.06
"""Mean luma (0..1) under which a frame counts as black."""
HDR_TRANSFERS = frozenset({16, 18})  # PQ (smpte2084), HLG (arib-std-b67)
_SCORE_SIDE = 32
_ROTATE = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def generate_video_thumbnails(
    source: Path, *, preview_path: Path, thumbnail_path: Path, options: ThumbnailOptions
) -> ThumbnailResult:
    """Write the preview and thumbnail of ``source``; raise ThumbnailError with the reason."""
    rendered = render_video_thumbnails(
        source, preview_path=preview_path, thumbnail_path=thumbnail_path, options=options
    )
    write_all(rendered.outputs)
    return rendered.result


def render_video_thumbnails(
    source: Path, *, preview_path: Path, thumbnail_path: Path, options: ThumbnailOptions
) -> Rendered:
    """Pick the frame and encode the preview and thumbnail, writing nothing (a codec worker's job)."""
    try:
        frame = _representative_frame(source)
        outputs, result = _render(frame, preview_path, thumbnail_path, options)
    except ThumbnailError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, MemoryError) as exc:
        raise ThumbnailError(f"{source.name}: cannot decode video: {exc}") from exc
    return Rendered(outputs=tuple(outputs), result=result)


def _open(source: Path, *, keyframes_only: bool) -> tuple[av.container.InputContainer, av.VideoStream]:
    container = av.open(str(source), mode="r", metadata_errors="ignore")
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        container.close()
        raise ThumbnailError(f"{source.name}: no video stream")
    stream = videos[0]
    stream.thread_type = "AUTO"
    # Immich decodes key frames only, except for MPEG-TS whose key flags are unreliable.
    if keyframes_only and container.format.name != "mpegts":
        stream.codec_context.skip_frame = "NONKEY"
    return container, stream


def _frames(source: Path, *, keyframes_only: bool, limit: int) -> list[av.VideoFrame]:
    container, stream = _open(source, keyframes_only=keyframes_only)
    frames: list[av.VideoFrame] = []
    with container:
        try:
            for frame in container.decode(stream):
                frames.append(frame)
                if len(frames) >= limit:
                    break
        except av.error.InvalidDataError:
            if not frames:
                raise  # a damaged tail still leaves the frames decoded before it
    return frames


def _representative_frame(source: Path) -> av.VideoFrame:
    frames = _frames(source, keyframes_only=True, limit=MAX_CANDIDATES)
    if len(frames) < MIN_KEYFRAMES:
        frames = _frames(source, keyframes_only=False, limit=MAX_CANDIDATES) or frames
    if not frames:
        raise ThumbnailError(f"{source.name}: the video has no decodable frame")
    lumas = [_luma(f) for f in frames]
    lit = [i for i, luma in enumerate(lumas) if luma.mean() >= BLACK_LUMA] or list(range(len(frames)))
    batch = lit[:BATCH]
    hists = {i: np.histogram(lumas[i], bins=16, range=(0.0, 1.0))[0] / lumas[i].size for i in batch}
    mean = np.mean([hists[i] for i in batch], axis=0)
    best = min(batch, key=lambda i: float(np.square(hists[i] - mean).sum()))
    return frames[best]


def _luma(frame: av.VideoFrame) -> npt.NDArray[np.float64]:
    grey = frame.reformat(width=_SCORE_SIDE, height=_SCORE_SIDE, format="gray")
    return np.asarray(grey.to_ndarray(), dtype=np.float64) / 255.0


def _render(
    frame: av.VideoFrame, preview_path: Path, thumbnail_path: Path, options: ThumbnailOptions
) -> tuple[list[tuple[Path, bytes]], ThumbnailResult]:
    rotation = round(frame.rotation or 0) % 360
    coded_w, coded_h = frame.width, frame.height
    pw, ph = fit_outside(coded_w, coded_h, options.preview.size)
    out_icc: bytes | None = None
    if int(frame.color_trc or 0) in HDR_TRANSFERS:
        signal = np.asarray(frame.reformat(width=pw, height=ph, format="rgb48le").to_ndarray(), dtype=np.uint16)
        image = Image.fromarray(tone_map_hdr(signal, 65535, int(frame.color_trc)), "RGB")
        image = transform_to(image, rgb_icc(PRIMARIES_BT2020, "BT.2020"), options.colorspace)
        out_icc = display_p3_icc() if options.colorspace == "p3" else None
    else:
        rgb = np.asarray(frame.reformat(width=pw, height=ph, format="rgb24").to_ndarray(), dtype=np.uint8)
        image = Image.fromarray(rgb, "RGB")
    if rotation in _ROTATE:
        image = image.transpose(_ROTATE[rotation])
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    thumbnail = resize(image, fit_outside(*image.size, options.thumbnail.size))
    po, to = options.preview, options.thumbnail
    outputs = [
        (preview_path, encode(image, po.format, po.quality, po.progressive, out_icc)),
        (thumbnail_path, encode(thumbnail, to.format, to.quality, to.progressive, out_icc)),
    ]
    small = resize(image, fit_inside(*image.size, THUMBHASH_MAX_SIDE)).convert("RGBA")
    result = ThumbnailResult(
        width=width,
        height=height,
        preview_path=preview_path,
        preview_size=image.size,
        thumbnail_path=thumbnail_path,
        thumbnail_size=thumbnail.size,
        fullsize_path=None,
        fullsize_size=None,
        thumbhash=rgba_to_thumbhash(small.width, small.height, small.tobytes()),
        is_transparent=False,
        colorspace=options.colorspace if out_icc is not None else "srgb",
    )
    return outputs, result
