"""Whether a video is transcoded, and what of it: Immich's ``getTranscodeTarget``,
``isVideoTranscodeRequired``, ``isAudioTranscodeRequired`` and ``isRemuxRequired``
(media.service.ts). Pure functions of the ``ffmpeg`` settings and the probe.

Policies (``ffmpeg.transcode``): ``disabled`` never; ``all`` always; ``required`` when the
video codec is not accepted or the pixel format is not 4:2:0 (``…420p``; a 10-bit
``yuv420p10le`` is not); ``optimal`` also when the short side is above ``targetResolution``;
``bitrate`` also when the stream's bit rate is above ``maxBitrate``. Audio is re-encoded,
under every policy but ``disabled`` and ``all``, when its codec is not accepted. With no
target, a container other than MP4 and not accepted is still remuxed; else an existing
encoded file is removed (the actor's job).
"""

from __future__ import annotations

import enum

from .settings import AudioStream, FfmpegSettings, VideoFormat, VideoStream

__all__ = [
    "Target",
    "is_audio_transcode_required",
    "is_remux_required",
    "is_video_transcode_required",
    "parse_bitrate_bps",
    "transcode_target",
]

POLICIES = frozenset({"all", "optimal", "bitrate", "required", "disabled"})


class Target(enum.Enum):
    """Immich's ``TranscodeTarget``: which streams are re-encoded (the rest are copied)."""

    NONE = "none"
    AUDIO = "audio"
    VIDEO = "video"
    ALL = "all"


class UnsupportedPolicy(ValueError):
    pass


def parse_bitrate_bps(value: str) -> int:
    """``maxBitrate`` in bits per second: the leading integer, times 1000 for a ``k`` and
    1000000 for an ``m`` ending; 0 when it has no number."""
    number = parse_int_prefix(value)
    if number is None:
        return 0
    lowered = value.lower()
    if lowered.endswith("k"):
        return number * 1000
    if lowered.endswith("m"):
        return number * 1_000_000
    return number


def parse_int_prefix(value: str) -> int | None:
    """JavaScript's ``Number.parseInt``: the leading integer of ``value`` or None (NaN)."""
    text = value.strip()
    end = 1 if text[:1] in ("+", "-") else 0
    while end < len(text) and text[end].isdigit():
        end += 1
    try:
        return int(text[:end])
    except ValueError:
        return None


def _check(policy: str) -> None:
    if policy not in POLICIES:
        raise UnsupportedPolicy(f"Unsupported transcode policy: {policy}")


def is_audio_transcode_required(settings: FfmpegSettings, stream: AudioStream | None) -> bool:
    if stream is None:
        return False
    _check(settings.transcode)
    if settings.transcode == "disabled":
        return False
    if settings.transcode == "all":
        return True
    return stream.codec_name not in settings.accepted_audio_codecs


def is_video_transcode_required(settings: FfmpegSettings, stream: VideoStream | None) -> bool:
    if stream is None:
        return False
    _check(settings.transcode)
    target_res = parse_int_prefix(settings.target_resolution)
    larger_than_target = (
        settings.target_resolution != "original"
        and target_res is not None
        and min(stream.height, stream.width) > target_res
    )
    larger_than_bitrate = stream.bitrate > parse_bitrate_bps(settings.max_bitrate)
    required = (
        stream.codec_name not in settings.accepted_video_codecs
        or not stream.pixel_format.endswith("420p")
    )
    match settings.transcode:
        case "disabled":
            return False
        case "all":
            return True
        case "required":
            return required
        case "optimal":
            return required or larger_than_target
        case _:  # bitrate
            return required or larger_than_bitrate


def transcode_target(
    settings: FfmpegSettings, video: VideoStream | None, audio: AudioStream | None
) -> Target:
    audio_required = is_audio_transcode_required(settings, audio)
    video_required = is_video_transcode_required(settings, video)
    if audio_required and video_required:
        return Target.ALL
    if audio_required:
        return Target.AUDIO
    if video_required:
        return Target.VIDEO
    return Target.NONE


def container_name(fmt: VideoFormat) -> str:
    """The container as Immich names it: QuickTime/MP4 files are ``mov`` (ffprobe's long
    name), anything else its format name."""
    return "mov" if fmt.format_long_name == "QuickTime / MOV" else fmt.format_name


def is_remux_required(settings: FfmpegSettings, fmt: VideoFormat) -> bool:
    if settings.transcode == "disabled":
        return False
    name = container_name(fmt)
    return name != "mp4" and name not in settings.accepted_containers
