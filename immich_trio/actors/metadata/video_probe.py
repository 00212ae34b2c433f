"""Probe a video with PyAV (FFmpeg's libraries in-process): what Immich reads with ffprobe.

Synchronous and thread-safe: the metadata actor runs it in a low-priority background thread
(reactor/background.py). The facts feed ``extract_metadata`` (``asset.duration`` in ms,
exif ``fps``, ``exifImageWidth/Height`` as the stream's coded size with the rotation as the
orientation, so the asset's display size is swapped for sideways videos, pipeline.md §6).
"""

from __future__ import annotations

import attrs
import av
import av.error

from immich_trio.actors.metadata.records import VideoFacts

__all__ = ["AudioStreamFacts", "VideoProbe", "VideoProbeError", "probe_video"]

#: FFmpeg colour transfer characteristics that mean HDR (ffprobe ``smpte2084``,
#: ``arib-std-b67``), as Immich's ``isHDR`` tests them.
TRANSFER_PQ = 16
TRANSFER_HLG = 18
HDR_TRANSFERS = frozenset({TRANSFER_PQ, TRANSFER_HLG})
#: Packets read while looking for the first decodable frame (rotation lives on frames).
MAX_PROBE_PACKETS = 256


class VideoProbeError(Exception):
    """The file is no readable video; ``reason`` says why, for the job log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen(kw_only=True)
class AudioStreamFacts:
    index: int
    codec_name: str
    bit_rate: int


@attrs.frozen(kw_only=True)
class VideoProbe:
    """The container, its first video stream (attached pictures excluded) and audio streams."""

    format_name: str
    format_long_name: str
    duration_seconds: float | None
    bit_rate: int
    index: int
    codec_name: str
    width: int
    height: int
    rotation: int
    """Degrees counter-clockwise, as ffprobe's display-matrix rotation (-90 → 270)."""
    fps: float | None
    frame_count: int
    pixel_format: str
    color_primaries: int
    color_transfer: int
    color_matrix: int
    video_bit_rate: int
    profile: str | None
    audio: tuple[AudioStreamFacts, ...]

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS

    def facts(self) -> VideoFacts:
        return VideoFacts(
            width=self.width or None,
            height=self.height or None,
            rotation=self.rotation,
            duration_seconds=self.duration_seconds,
            fps=self.fps,
        )


def probe_video(path: str) -> VideoProbe:
    """Open ``path`` and read its streams, decoding the first frame (which also proves the
    stream decodes). Raises VideoProbeError for anything that is not a playable video."""
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoProbeError(f"cannot open video: {exc}") from exc
    with container:
        try:
            return _probe(container)
        except av.error.FFmpegError as exc:
            raise VideoProbeError(f"cannot read video: {exc}") from exc


def _probe(container: av.container.InputContainer) -> VideoProbe:
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        raise VideoProbeError("no video stream")
    stream = videos[0]
    ctx = stream.codec_context
    rotation = _first_frame_rotation(container, stream)
    duration = container.duration / av.time_base if container.duration else None
    if duration is None and stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    rate = stream.average_rate or stream.guessed_rate
    codec = ctx.name
    return VideoProbe(
        format_name=container.format.name,
        format_long_name=container.format.long_name,
        duration_seconds=duration,
        bit_rate=int(container.bit_rate or 0),
        index=stream.index,
        codec_name="hevc" if codec == "h265" else codec,
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        rotation=round(rotation) % 360,
        fps=float(rate) if rate else None,
        frame_count=int(stream.frames or 0),
        pixel_format=ctx.pix_fmt or "yuv420p",
        color_primaries=int(ctx.color_primaries or 2),
        color_transfer=int(ctx.color_trc or 2),
        color_matrix=int(ctx.colorspace or 2),
        video_bit_rate=int(ctx.bit_rate or 0),
        profile=stream.profile,
        audio=tuple(
            AudioStreamFacts(index=a.index, codec_name=a.codec_context.name, bit_rate=int(a.codec_context.bit_rate or 0))
            for a in container.streams.audio
        ),
    )


def _first_frame_rotation(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """The display rotation, read from the first decoded frame; no frame is an error."""
    packets = 0
    for packet in container.demux(stream):
        for frame in packet.decode():
            return float(frame.rotation or 0)
        packets += 1
        if packets >= MAX_PROBE_PACKETS:
            break
    raise VideoProbeError("video stream has no decodable frame")
