"""A video's preview JPEG, thumbnail WebP and thumbhash from one representative frame, with
PyAV (FFmpeg's libraries). Synchronous and thread-safe: the actor runs
``render_video_thumbnails`` in a codec worker process (workers.py) under its limiter.

Frame choice, after Immich's ffmpeg chain (pipeline.md §5: key frames only, ``thumbnail=12``
picks the frame of a batch of 12 closest to the batch's mean histogram, scene selection skips
the opening shot): key frames are decoded (every frame when there are fewer than
``MIN_KEYFRAMES``), near-black frames are dropped (fade-ins, black leaders) unless all are,
and among the first ``BATCH`` remaining the one nearest the mean luma histogram wins.

Cost (benchmarks/bench_video_thumbnail.py): frames are scored as they are decoded and decoding
stops once the batch is full; the candidates' key packets are held, not their frames (a 4K
frame is 12 MB of fresh memory when the decoder cannot reuse its buffers), and the chosen one
is decoded again alone. The preview is scaled by libswscale straight from YUV; the thumbnail
and the thumbhash come from the preview, the preview's encode in a thread beside them.

HDR (PQ or HLG transfer): the frame is read as 16-bit RGB and tone-mapped with
``colour.tone_map_hdr`` (PQ: BT.2390-style roll-off of the nits; HLG: the reference OOTF),
then converted from BT.2020 primaries to the configured colour space.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter
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
THUMBNAIL_REDUCING_GAP = 2.0
"""The thumbnail is shrunk from the preview by a box reduce to within 2x, then Lanczos."""
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


class _Candidate(NamedTuple):
    pts: int | None
    luma: npt.NDArray[np.float64]
    kept: av.Packet[av.VideoStream] | av.VideoFrame
    """A key frame's packet, decoded again alone once chosen (twelve 4K frames held at once are
    150 MB the decoder must take fresh on every frame), else the frame itself."""


def _representative_frame(source: Path) -> av.VideoFrame:
    container, stream = _open(source, keyframes_only=True)
    with container:
        batch, read = _candidates(container, stream)
        if read >= MIN_KEYFRAMES:
            return _frame_of(container, stream, _pick(batch))
        few = _frame_of(container, stream, _pick(batch)) if batch else None
    container, stream = _open(source, keyframes_only=False)
    with container:
        every, _ = _candidates(container, stream)
        if every:
            return _frame_of(container, stream, _pick(every))
    if few is None:
        raise ThumbnailError(f"{source.name}: the video has no decodable frame")
    return few


def _candidates(container: av.container.InputContainer, stream: av.VideoStream) -> tuple[list[_Candidate], int]:
    """The batch the choice compares and how many frames were decoded for it.

    The batch is the first ``BATCH`` lit frames among the first ``MAX_CANDIDATES`` (all of them
    when fewer are lit), or the first ``BATCH`` frames when none is lit. Frames are scored as
    they come out of the decoder and decoding stops once the batch is full: the frames after
    it could not change the choice, and the decoder's threads keep working while a frame is
    scored."""
    lit: list[_Candidate] = []
    dark: list[_Candidate] = []
    read = 0
    key_packets: dict[int, av.Packet[av.VideoStream]] = {}
    scaler = VideoReformatter()
    try:
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None:
                key_packets[packet.pts] = packet
            for frame in stream.decode(packet):
                read += 1
                luma = _luma(frame, scaler)
                pts = frame.pts
                kept: av.Packet[av.VideoStream] | av.VideoFrame = frame
                if pts is not None:
                    packet_of = key_packets.pop(pts, None)
                    if packet_of is not None and frame.key_frame:  # intra: decodes alone the same
                        kept = packet_of
                    for stale in [p for p in key_packets if p < pts]:
                        del key_packets[stale]
                if luma.mean() >= BLACK_LUMA:
                    lit.append(_Candidate(pts, luma, kept))
                elif len(dark) < BATCH:
                    dark.append(_Candidate(pts, luma, kept))
                if len(lit) >= BATCH or read >= MAX_CANDIDATES:
                    return (lit or dark), read
    except av.error.InvalidDataError:
        if not read:
            raise  # a damaged tail still leaves the frames decoded before it
    return (lit or dark), read


def _pick(batch: list[_Candidate]) -> _Candidate:
    """The frame whose luma histogram is nearest the batch's mean (ffmpeg's ``thumbnail``)."""
    hists = [np.histogram(c.luma, bins=16, range=(0.0, 1.0))[0] / c.luma.size for c in batch]
    mean = np.mean(hists, axis=0)
    return batch[min(range(len(batch)), key=lambda i: float(np.square(hists[i] - mean).sum()))]


def _frame_of(container: av.container.InputContainer, stream: av.VideoStream, chosen: _Candidate) -> av.VideoFrame:
    """The chosen frame: its key packet decoded alone, or (a packet that does not decode alone)
    the stream decoded again from the start up to it."""
    if isinstance(chosen.kept, av.VideoFrame):
        return chosen.kept
    codec = stream.codec_context
    codec.flush_buffers()
    try:
        for frame in [*codec.decode(chosen.kept), *codec.decode(None)]:
            if frame.pts == chosen.pts:
                return frame
    except av.error.FFmpegError:
        pass
    codec.flush_buffers()
    container.seek(0, stream=stream)
    for frame in container.decode(stream):
        if frame.pts == chosen.pts:
            return frame
    raise ThumbnailError("the chosen frame did not decode a second time")


def _luma(frame: av.VideoFrame, scaler: VideoReformatter) -> npt.NDArray[np.float64]:
    """The frame's luma (0..1) scaled down to a ``_SCORE_SIDE`` square by libswscale, through
    one reformatter per video (its scaling context is built once, not per frame)."""
    grey = scaler.reformat(frame, width=_SCORE_SIDE, height=_SCORE_SIDE, format="gray")
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
    po, to = options.preview, options.thumbnail
    # The preview's JPEG encode (Pillow lets go of the GIL) runs beside the thumbnail's resize,
    # encode and thumbhash.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview-encode") as encoder:
        preview = encoder.submit(encode, image, po.format, po.quality, po.progressive, out_icc)
        # From the preview, box-reduced first past 2x as libvips does for Immich (sharp): a
        # tenth of a grey level from the plain Lanczos on textured frames, at half its cost.
        thumbnail_size = fit_outside(*image.size, to.size)
        thumbnail = resize(image, thumbnail_size, reducing_gap=THUMBNAIL_REDUCING_GAP)
        thumbnail_bytes = encode(thumbnail, to.format, to.quality, to.progressive, out_icc)
        small = resize(thumbnail, fit_inside(*thumbnail.size, THUMBHASH_MAX_SIDE)).convert("RGBA")
        thumbhash = rgba_to_thumbhash(small.width, small.height, small.tobytes())
        outputs = [(preview_path, preview.result()), (thumbnail_path, thumbnail_bytes)]
    result = ThumbnailResult(
        width=width,
        height=height,
        preview_path=preview_path,
        preview_size=image.size,
        thumbnail_path=thumbnail_path,
        thumbnail_size=thumbnail.size,
        fullsize_path=None,
        fullsize_size=None,
        thumbhash=thumbhash,
        is_transparent=False,
        colorspace=options.colorspace if out_icc is not None else "srgb",
    )
    return outputs, result
