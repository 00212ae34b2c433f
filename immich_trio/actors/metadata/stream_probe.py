"""Immich v3.1's ffprobe view of a video, read with PyAV: ``asset_video``, ``asset_audio``,
``asset_keyframe`` and the facts metadata extraction takes from the probe.

What Immich's media repository reads (and so what this module reproduces):

- format: name, long name, duration in seconds (0 or absent: no duration), bit rate;
- video streams (attached pictures excluded) and audio streams, each sorted with the
  ``default`` disposition first, then by bit rate, highest first; the first of each is used;
- video: index, height, width from the display aspect ratio (``round(height * DAR)`` when a
  sample aspect ratio is set, else the coded width), codec name (``h265`` → ``hevc``),
  profile and level as numbers, ``nb_frames``, the average frame rate (``0/0`` → none, no
  fallback), the time base's denominator, the display-matrix rotation, bit rate, pixel format
  (``yuv420p`` when unknown), colour primaries / transfer / matrix as ITU-T H.273 codes
  restricted to the names Immich's enums know (others → 2, "unknown"), Dolby Vision
  configuration;
- audio: index, codec name, AAC profile as the MPEG-4 audio object type, bit rate.

Unlike the thumbnail path, nothing here requires a decodable frame: an audio-only MP4 or a
video of 0 frames probes fine (Immich's ffprobe does not decode), and only a file FFmpeg cannot
open fails (``VideoProbeError``). The rotation is read from the first decoded frame when one
decodes (PyAV exposes the display matrix on frames); the keyframe scan demuxes the rest.

Dolby Vision: PyAV does not expose the stream's DOVI configuration record, so it is read from
the MP4/MOV boxes by ``dolby_vision.py`` (other containers: null, as for a stream without one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

import attrs
import av
import av.error

from immich_trio.actors.metadata.dolby_vision import read_dovi_record
from immich_trio.actors.metadata.keyframes import PacketScan, PacketTiming, scan_packets
from immich_trio.actors.metadata.records import VideoFacts

__all__ = [
    "HDR_TRANSFERS", "AudioStreamInfo", "StreamProbe", "VideoProbeError", "VideoStreamInfo", "probe_streams",
    "profile_code",
]  # fmt: skip

UNKNOWN = 2
#: H.273 codes Immich's ColorPrimaries enum names (FFmpeg's "reserved" names are 0).
PRIMARIES = frozenset({0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 22})
#: ColorTransfer: FFmpeg calls 4 and 5 "gamma22"/"gamma28", names Immich's enum lacks.
TRANSFERS = frozenset({0, 1, 2, *range(6, 19)})
MATRICES = frozenset(range(15))
RESERVED_AS_ZERO = frozenset({3})  # FFmpeg's name for 3 is "reserved" (code 0 in the enum)
#: Profile names (as Immich's enum keys: FFmpeg's name in PascalCase) → number.
H264_PROFILES: Mapping[str, int] = {
    "ConstrainedBaseline": 66, "Baseline": 66, "Main": 77, "Extended": 88,
    "ConstrainedHigh": 100, "ProgressiveHigh": 100, "High": 100, "High10": 110,
    "High422": 122, "High444Predictive": 244,
}  # fmt: skip
HEVC_PROFILES: Mapping[str, int] = {"Main": 1, "Main10": 2, "MainStillPicture": 3, "Rext": 4}
AV1_PROFILES: Mapping[str, int] = {"Main": 0, "High": 1, "Professional": 2}
AAC_PROFILES: Mapping[str, int] = {
    "Main": 1, "Lc": 2, "Ssr": 3, "Ltp": 4, "HeAac": 5, "Ld": 23, "HeAacv2": 29, "Eld": 39,
    "XheAac": 42,
}  # fmt: skip
VIDEO_PROFILES: Mapping[str, Mapping[str, int]] = {
    "h264": H264_PROFILES, "hevc": HEVC_PROFILES, "h265": HEVC_PROFILES, "av1": AV1_PROFILES,
}  # fmt: skip
#: Packets fed to the decoder while looking for the first frame (its display matrix).
ROTATION_PACKETS = 64

_WORD = re.compile(r"[a-z]+|[0-9]+")
#: FFmpeg colour transfer characteristics that mean HDR (ffprobe ``smpte2084``,
#: ``arib-std-b67``), as Immich's ``isHDR`` tests them.
HDR_TRANSFERS = frozenset({16, 18})


class VideoProbeError(Exception):
    """The file is no readable video; ``reason`` says why, for the job log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def profile_code(names: Mapping[str, int], name: str | None) -> int | None:
    """FFmpeg's profile name in PascalCase ("High 4:4:4 Predictive" → High444Predictive),
    looked up as Immich looks up its enum; unknown names are None."""
    if not name:
        return None
    key = "".join(word.capitalize() for word in _WORD.findall(name.lower()))
    return names.get(key)


def _colour(code: int | None, known: frozenset[int]) -> int:
    if code is None:
        return UNKNOWN
    if code in RESERVED_AS_ZERO and known is not MATRICES:
        return 0
    return code if code in known else UNKNOWN


@attrs.frozen(kw_only=True)
class VideoStreamInfo:
    index: int
    width: int
    height: int
    rotation: int
    """Degrees, as ffprobe's display matrix says (counter-clockwise, -180..180)."""
    codec_name: str
    profile: int | None
    level: int | None
    frame_count: int
    frame_rate: float | None
    time_base: int | None
    bitrate: int
    pixel_format: str
    color_primaries: int
    color_transfer: int
    color_matrix: int
    dv_profile: int | None = None
    dv_level: int | None = None
    dv_bl_signal_compatibility_id: int | None = None


@attrs.frozen(kw_only=True)
class AudioStreamInfo:
    index: int
    codec_name: str
    profile: int | None
    bitrate: int


@attrs.frozen(kw_only=True)
class StreamProbe:
    format_name: str
    format_long_name: str
    duration: float
    """Seconds; 0 when the container has none."""
    bitrate: int
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None
    packets: PacketScan | None

    @property
    def is_hdr(self) -> bool:
        return self.video is not None and self.video.color_transfer in HDR_TRANSFERS

    def facts(self) -> VideoFacts:
        """What extraction takes from the probe (Immich's video tags)."""
        video = self.video
        return VideoFacts(
            width=video.width or None if video else None,
            height=video.height or None if video else None,
            rotation=video.rotation if video else None,
            duration_seconds=self.duration or None,
            fps=video.frame_rate if video else None,
        )

    def video_row(self) -> dict[str, Any] | None:
        """``asset_video`` columns, or None when Immich writes no row (no codec name or
        time base, or a format without a name)."""
        video = self.video
        if not (
            self.format_name
            and self.format_long_name
            and video
            and video.codec_name
            and video.time_base
        ):
            return None
        return {
            "bitrate": video.bitrate,
            "frameCount": video.frame_count,
            "timeBase": video.time_base,
            "index": video.index,
            "profile": video.profile,
            "level": video.level,
            "colorPrimaries": video.color_primaries,
            "colorTransfer": video.color_transfer,
            "colorMatrix": video.color_matrix,
            "dvProfile": video.dv_profile,
            "dvLevel": video.dv_level,
            "dvBlSignalCompatibilityId": video.dv_bl_signal_compatibility_id,
            "codecName": video.codec_name,
            "formatName": self.format_name,
            "formatLongName": self.format_long_name,
            "pixelFormat": video.pixel_format,
        }

    def keyframe_row(self) -> dict[str, Any] | None:
        """``asset_keyframe`` columns; None without keyframes or when a value does not fit
        the v3.1 ``integer`` columns (Immich's insert would fail the whole job there)."""
        scan = self.packets
        if scan is None or not scan.pts or not scan.fits_int32():
            return None
        return {
            "pts": list(scan.pts),
            "accDuration": list(scan.acc_duration),
            "ownDuration": list(scan.own_duration),
            "totalDuration": scan.total_duration,
            "packetCount": scan.packet_count,
            "outputFrames": scan.output_frames,
        }

    def audio_row(self) -> dict[str, Any] | None:
        audio = self.audio
        if audio is None or not audio.codec_name:
            return None
        return {
            "bitrate": audio.bitrate,
            "index": audio.index,
            "profile": audio.profile,
            "codecName": audio.codec_name,
        }


def probe_streams(path: str, *, keyframes: bool = True) -> StreamProbe:
    """Probe ``path`` as Immich's media repository does; VideoProbeError when FFmpeg
    cannot open it (a truncated MP4 whose index is gone, a file of no known format).
    ``keyframes=False`` (the transcoder's probe) stops demuxing once the rotation is read:
    no ``asset_keyframe`` row then."""
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoProbeError(f"cannot open video: {exc}") from exc
    with container:
        try:
            probe = _probe(container, keyframes=keyframes)
        except av.error.FFmpegError as exc:
            raise VideoProbeError(f"cannot read video: {exc}") from exc
    video = probe.video
    if video is not None and "mov" in probe.format_name.split(","):
        record = read_dovi_record(path, video.index)
        if record is not None:
            video = attrs.evolve(
                video,
                dv_profile=record.profile,
                dv_level=record.level,
                dv_bl_signal_compatibility_id=record.bl_signal_compatibility_id,
            )
            probe = attrs.evolve(probe, video=video)
    return probe


def _ranked(streams: list[Any]) -> list[Any]:
    def key(stream: Any) -> tuple[int, int]:
        default = 1 if stream.disposition & av.stream.Disposition.default else 0
        return (-default, -int(stream.codec_context.bit_rate or 0))

    return sorted(streams, key=key)


def _codec_name(stream: Any) -> str:
    # The codec's name as ffprobe prints it (the descriptor, not the decoder: av1, not libdav1d).
    name: str = stream.codec_context.codec.canonical_name or stream.codec_context.name
    return "hevc" if name == "h265" else name


def _probe(container: av.container.InputContainer, *, keyframes: bool) -> StreamProbe:
    videos = _ranked(
        [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
    )
    audios = _ranked(list(container.streams.audio))
    video_stream = videos[0] if videos else None
    rotation, packets = (0, None)
    if video_stream is not None:
        rotation, packets = _scan(container, video_stream, keyframes=keyframes)
    audio = None
    if audios:
        a = audios[0]
        name = _codec_name(a)
        audio = AudioStreamInfo(
            index=a.index,
            codec_name=name,
            profile=profile_code(AAC_PROFILES, a.profile) if name == "aac" else None,
            bitrate=int(a.codec_context.bit_rate or 0),
        )
    return StreamProbe(
        format_name=container.format.name,
        format_long_name=container.format.long_name,
        duration=container.duration / av.time_base if container.duration else 0.0,
        bitrate=int(container.bit_rate or 0),
        video=_video_info(video_stream, rotation) if video_stream is not None else None,
        audio=audio,
        packets=packets if video_stream is not None and video_stream.time_base else None,
    )


def _video_info(stream: av.VideoStream, rotation: int) -> VideoStreamInfo:
    ctx = stream.codec_context
    height = int(ctx.height or 0)
    width = int(ctx.width or 0)
    sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
    if sar and width and height:
        dar = Fraction(width * sar.numerator, height * sar.denominator)
        width = int(height * dar + Fraction(1, 2))  # JavaScript's Math.round
    name = _codec_name(stream)
    rate = stream.average_rate
    return VideoStreamInfo(
        index=stream.index,
        width=width,
        height=height,
        rotation=rotation,
        codec_name=name,
        profile=profile_code(VIDEO_PROFILES.get(name, {}), stream.profile),
        level=int(ctx.level) if ctx.level is not None else None,
        frame_count=int(stream.frames or 0),
        frame_rate=float(rate) if rate else None,
        time_base=stream.time_base.denominator if stream.time_base else None,
        bitrate=int(ctx.bit_rate or 0),
        pixel_format=ctx.pix_fmt or "yuv420p",
        color_primaries=_colour(ctx.color_primaries, PRIMARIES),
        color_transfer=_colour(ctx.color_trc, TRANSFERS),
        color_matrix=_colour(ctx.colorspace, MATRICES),
    )


def _scan(
    container: av.container.InputContainer, stream: av.VideoStream, *, keyframes: bool
) -> tuple[int, PacketScan | None]:
    """One demux pass over the stream: the packets' timings for ``asset_keyframe``, and the
    rotation from the first frame the first packets decode to (none decoding: 0). Without
    ``keyframes``, the pass ends at the rotation and no scan is returned."""
    found: list[float] = []
    fed = 0

    def timings() -> Iterator[PacketTiming]:
        nonlocal fed
        try:
            for packet in container.demux(stream):
                if not found and fed < ROTATION_PACKETS and packet.size:
                    fed += 1
                    found.extend(_first_rotation(packet))
                if not keyframes and (found or fed >= ROTATION_PACKETS):
                    return
                yield PacketTiming(
                    pts=packet.pts,
                    duration=packet.duration,
                    is_keyframe=packet.is_keyframe,
                    is_discard=packet.is_discard,
                )
        except av.error.FFmpegError:
            return  # a damaged tail: keep the packets listed before it, as ffprobe does

    scan = scan_packets(timings())
    return (round(found[0]) if found else 0), scan if keyframes else None


def _first_rotation(packet: Any) -> list[float]:
    try:
        for frame in packet.decode():
            return [float(getattr(frame, "rotation", 0) or 0)]
    except av.error.FFmpegError:
        return [0.0]  # undecodable: Immich's probe never decodes, so this is no failure
    return []
