"""What an HLS stream of a video looks like, as Immich v3.1 computes it: the variant ladder,
the segmentation (fixed-length segments of whole frames at the source's mean frame rate), the
playlist texts, codec strings and the folders segments are written to. Pure functions only."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

SEGMENT_SECONDS = 2
"""``HLS_SEGMENT_DURATION``: target length of one segment, in seconds."""
HLS_VERSION = 7
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CONTENT_TYPE = "video/mp4"
INIT_FILENAME = "init.mp4"
LEASE_SECONDS = 30 * 60
"""A session row's lease; a heartbeat renews it once less than half is left."""
INACTIVITY_SECONDS = 5 * 60
"""A session no request touched for this long is ended by the sweep."""
SWEEP_INTERVAL_SECONDS = 60
SEGMENT_WAIT_SECONDS = 15
"""How long a segment request waits for the transcode to produce it."""
PAUSE_LEAD_SEGMENTS = 30
RESUME_LEAD_SEGMENTS = 15
CRF = {"h264": 23, "hevc": 28, "vp9": 31, "av1": 35}


@attrs.frozen
class Variant:
    resolution: int
    codec: str
    bitrate: int


# Immich's HLS_VARIANTS: the index in this list is the ``variantIndex`` of the URLs.
VARIANTS: tuple[Variant, ...] = tuple(
    Variant(res, codec, rate)
    for res, rates in (
        (480, (1_000_000, 1_200_000, 2_500_000)),
        (720, (2_000_000, 2_500_000, 5_000_000)),
        (1080, (4_000_000, 4_500_000, 8_000_000)),
        (1440, (7_000_000, 8_000_000, 14_000_000)),
        (2160, (12_000_000, 14_000_000, 25_000_000)),
    )
    for codec, rate in zip(("av1", "hevc", "h264"), rates, strict=True)
)

# (max frame size, max rate, token): H.264 High (macroblocks), HEVC Main and AV1 Main (samples).
_H264_LEVELS = (
    (1620, 40_500, "1e"), (3600, 108_000, "1f"), (5120, 216_000, "20"), (8192, 245_760, "28"),
    (8704, 522_240, "2a"), (22_080, 589_824, "32"), (36_864, 983_040, "33"),
    (36_864, 2_073_600, "34"), (139_264, 4_177_920, "3c"), (139_264, 8_355_840, "3d"),
    (139_264, 16_711_680, "3e"),
)  # fmt: skip
_HEVC_LEVELS = (
    (552_960, 16_588_800, "L90"), (983_040, 33_177_600, "L93"), (2_228_224, 66_846_720, "L120"),
    (2_228_224, 133_693_440, "L123"), (8_912_896, 267_386_880, "L150"),
    (8_912_896, 534_773_760, "L153"), (8_912_896, 1_069_547_520, "L156"),
    (35_651_584, 1_069_547_520, "L180"), (35_651_584, 2_139_095_040, "L183"),
    (35_651_584, 4_278_190_080, "L186"),
)  # fmt: skip
_AV1_LEVELS = (
    (665_856, 19_975_168, "04M"), (1_065_024, 31_950_336, "05M"), (2_359_296, 70_778_880, "08M"),
    (2_359_296, 141_557_760, "09M"), (8_912_896, 267_386_880, "12M"),
    (8_912_896, 534_773_760, "13M"), (8_912_896, 1_069_547_520, "14M"),
    (35_651_584, 1_069_547_520, "16M"), (35_651_584, 2_139_095_040, "17M"),
    (35_651_584, 4_278_190_080, "18M"),
)  # fmt: skip


@attrs.frozen(kw_only=True)
class StreamInfo:
    """The facts of a video the playlists need (``asset_exif``, ``asset_video``,
    ``asset_keyframe``): display size, rotation, and the packet timing."""

    width: int
    height: int
    rotation: int
    time_base: int
    """Ticks per second of the video stream (``asset_video.timeBase``)."""
    packet_count: int
    total_duration: int
    """Sum of the packets' durations, in ``time_base`` ticks."""
    output_frames: int
    """Frames of the constant-rate output."""

    @property
    def fps(self) -> Fraction:
        return Fraction(self.packet_count * self.time_base, self.total_duration)

    @property
    def vertical(self) -> bool:
        return self.height > self.width or abs(self.rotation) == 90


def stream_info(row: Mapping[str, Any]) -> StreamInfo:
    """From a row of ``sql.video_stream``'s stream queries."""
    return StreamInfo(
        width=int(row["width"]),
        height=int(row["height"]),
        rotation=int(row["rotation"]),
        time_base=int(row["timeBase"]),
        packet_count=int(row["packetCount"]),
        total_duration=int(row["totalDuration"]),
        output_frames=int(row["outputFrames"]),
    )


@attrs.frozen(kw_only=True)
class Segmentation:
    fps: Fraction
    frames_per_segment: int
    segment_count: int

    @property
    def segment_seconds(self) -> float:
        return float(self.frames_per_segment / self.fps)


def segmentation(info: StreamInfo) -> Segmentation:
    fps = info.fps
    per_segment = math.ceil(SEGMENT_SECONDS * fps)
    return Segmentation(
        fps=fps,
        frames_per_segment=per_segment,
        segment_count=math.ceil(info.output_frames / per_segment),
    )


def position_to_segment(seg: Segmentation, position: float) -> int:
    """The segment holding ``position`` seconds (the ``x-immich-hls-pos`` hint)."""
    return min(max(math.floor(position / seg.segment_seconds), 0), seg.segment_count - 1)


def _js_round(value: float) -> int:
    return math.floor(value + 0.5)


def output_size(info: StreamInfo, resolution: int) -> tuple[int, int]:
    """Width and height of a variant: ``resolution`` on the short side, the aspect kept,
    the long side rounded down to even."""
    factor = max(info.width, info.height) / min(info.width, info.height)
    larger = _js_round(resolution * factor)
    if larger % 2:
        larger -= 1
    return (resolution, larger) if info.vertical else (larger, resolution)


def _pick(levels: Sequence[tuple[int, int, str]], frame: float, rate: float) -> str:
    for max_frame, max_rate, token in levels:
        if frame <= max_frame and rate <= max_rate:
            return token
    return levels[-1][2]


def codec_string(codec: str, width: int, height: int, fps: float) -> str:
    if codec == "h264":
        macroblocks = math.ceil(width / 16) * math.ceil(height / 16)
        return f"avc1.6400{_pick(_H264_LEVELS, macroblocks, macroblocks * fps)}"
    samples = width * height
    if codec == "hevc":
        return f"hvc1.1.6.{_pick(_HEVC_LEVELS, samples, samples * fps)}.B0"
    if codec == "av1":
        return f"av01.0.{_pick(_AV1_LEVELS, samples, samples * fps)}.08"
    raise ValueError(f"Codec '{codec}' does not support HLS codec strings")


def _header() -> list[str]:
    return ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]


def main_playlist(
    session_id: str, info: StreamInfo, codecs: Sequence[str], resolutions: Sequence[int]
) -> str | None:
    """The main playlist of a session, or None when no variant fits (Immich's 404)."""
    fps = float(info.fps)
    target = max(min(info.width, info.height), VARIANTS[0].resolution)
    lines = _header()
    for index, variant in enumerate(VARIANTS):
        if (
            variant.resolution > target
            or variant.codec not in codecs
            or variant.resolution not in resolutions
        ):
            continue
        width, height = output_size(info, variant.resolution)
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={_js_round(variant.bitrate * 1.35)},RESOLUTION={width}x{height},"
            f'CODECS="{codec_string(variant.codec, width, height, fps)},mp4a.40.2",VIDEO-RANGE=SDR,'
            f"FRAME-RATE={fps:.3f}"
        )
        lines.append(f"{session_id}/{index}/playlist.m3u8")
    if len(lines) == 3:
        return None
    return "\n".join([*lines, ""])


def media_playlist(info: StreamInfo, seg: Segmentation) -> str:
    last_frames = info.output_frames - seg.frames_per_segment * (seg.segment_count - 1)
    lines = [
        *_header(),
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f'#EXT-X-MAP:URI="{INIT_FILENAME}"',
    ]
    for i in range(seg.segment_count - 1):
        lines += [f"#EXTINF:{seg.segment_seconds:.6f},", f"seg_{i}.m4s"]
    last = float(last_frames / seg.fps)
    lines += [f"#EXTINF:{last:.6f},", f"seg_{seg.segment_count - 1}.m4s", "#EXT-X-ENDLIST", ""]
    return "\n".join(lines)


def segment_filename(index: int) -> str:
    return f"seg_{index}.m4s"


def segment_index(filename: str) -> int | None:
    """The index of ``seg_N.m4s``; None for the init segment."""
    if filename.startswith("seg_") and filename.endswith(".m4s"):
        return int(filename[4:-4])
    return None


def session_folder(media: Path, owner_id: str, session_id: str) -> Path:
    """``encoded-video/<owner>/<id[0:2]>/<id[2:4]>/<id>`` (Immich's StorageCore layout)."""
    return media / "encoded-video" / owner_id / session_id[0:2] / session_id[2:4] / session_id


def variant_folder(media: Path, owner_id: str, session_id: str, variant_index: int) -> Path:
    return session_folder(media, owner_id, session_id) / str(variant_index)
