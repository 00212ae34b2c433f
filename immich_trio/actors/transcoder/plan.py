"""How a video is encoded once the policy says so: Immich's software codec configs
(``BaseConfig``, ``H264Config``, ``HEVCConfig``, ``VP9Config``, ``AV1Config`` in
utils/media.ts) as one pure function from settings and probe to an ``EncodePlan``.

The plan holds what ffmpeg's command line would carry: the encoders (or copy), the output
size (``scale=-2:<res>``, or ``<res>:-2`` for vertical video, even dimensions), tone mapping
or ``format=yuv420p``, and the encoder options (preset or speed, CRF, max bitrate and
buffer, two-pass bitrates, threads, GOP, B-frames, refs). ``ffmpeg_arguments`` renders the
same plan as an ``ffmpeg`` command line (the benchmark runs it; tests read it as Immich's).
"""

from __future__ import annotations

import math

import attrs

from .policy import Target, parse_int_prefix
from .settings import AudioStream, FfmpegSettings, VideoStream

__all__ = ["EncodePlan", "PlanError", "encode_plan", "ffmpeg_arguments"]

PRESETS = ("veryslow", "slower", "slow", "medium", "fast", "faster", "veryfast", "superfast", "ultrafast")
VIDEO_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "opus": "libopus", "libopus": "libopus", "pcm_s16le": "pcm_s16le"}
HW_ACCELS = {"nvenc": ("h264", "hevc", "av1"), "qsv": ("h264", "hevc", "vp9", "av1"),
             "vaapi": ("h264", "hevc", "vp9", "av1"), "rkmpp": ("h264", "hevc")}
"""Hardware acceleration modes and the target codecs Immich lets each encode."""
MAX_AUDIO_CHANNELS = 2


class PlanError(ValueError):
    """The settings cannot make a command (Immich throws the same messages)."""


@attrs.frozen(kw_only=True)
class EncodePlan:
    target: Target
    video_encoder: str | None
    """None: the video stream is copied."""
    audio_encoder: str | None
    """None: the audio stream (if any) is copied."""
    video_index: int
    audio_index: int | None
    width: int | None = None
    """The output size when it is scaled (after rotation), else None."""
    height: int | None = None
    scale_filter: str | None = None
    """Immich's ``scale=`` argument, e.g. ``-2:720``."""
    tone_map: str | None = None
    """The tone-mapping curve (hable, mobius, reinhard) when the HDR source is mapped to SDR."""
    to_yuv420p: bool = False
    options: tuple[tuple[str, str], ...] = ()
    """Encoder options, in ffmpeg's names (``preset``, ``crf``, ``maxrate``...)."""
    two_pass: bool = False
    hvc1_tag: bool = False
    audio_channels: int | None = None
    """Channels of the re-encoded audio at most (Immich downmixes to stereo)."""

    @property
    def encodes_video(self) -> bool:
        return self.video_encoder is not None

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)


def check_acceleration(settings: FfmpegSettings, dri_devices: list[str]) -> None:
    """Raise Immich's error when its hardware config cannot be built on this machine
    (``BaseConfig.create``: unknown mode, codec not supported, no ``/dev/dri`` device)."""
    accel = settings.accel
    if accel == "disabled":
        return
    if accel not in HW_ACCELS:
        raise PlanError(f"{accel.upper()} acceleration is unsupported")
    if accel != "nvenc":
        devices = [d for d in dri_devices if d.startswith(("renderD", "card"))]
        if not dri_devices:
            raise PlanError("No /dev/dri devices found. If using Docker, make sure at least one /dev/dri device is mounted")
        wanted = settings.preferred_hw_device.replace("/dev/dri/", "")
        if settings.preferred_hw_device != "auto" and wanted not in dri_devices:
            raise PlanError(f"Device '{wanted}' does not exist. If using Docker, make sure this device is mounted")
        if not devices and settings.preferred_hw_device == "auto":
            raise PlanError("No /dev/dri devices found. If using Docker, make sure at least one /dev/dri device is mounted")
    supported = HW_ACCELS[accel]
    if settings.target_video_codec not in supported:
        raise PlanError(
            f"{accel.upper()} acceleration does not support codec '{settings.target_video_codec.upper()}'."
            f" Supported codecs: {','.join(supported)}"
        )


def target_resolution(settings: FfmpegSettings, video: VideoStream) -> int:
    value = (
        min(video.height, video.width)
        if settings.target_resolution == "original"
        else parse_int_prefix(settings.target_resolution) or 0
    )
    return value - 1 if value % 2 else value


def is_rotated(video: VideoStream) -> bool:
    """ffprobe's rotation is ±90 for sideways video; ours is 90 or 270."""
    return video.rotation % 360 in (90, 270)


def is_vertical(video: VideoStream) -> bool:
    return video.height > video.width or is_rotated(video)


def should_scale(settings: FfmpegSettings, video: VideoStream) -> bool:
    odd = video.height % 2 != 0 or video.width % 2 != 0
    return odd or min(video.height, video.width) > target_resolution(settings, video)


def _rescale_even(value: int, num: int, den: int, factor: int = 2) -> int:
    """FFmpeg's ``-2`` in ``scale``: value·num/den rounded to the nearest multiple of 2."""
    return max(factor, math.floor(value * num / (den * factor) + 0.5) * factor)


def scaled_size(settings: FfmpegSettings, video: VideoStream) -> tuple[str, int, int]:
    """Immich's ``scale=`` argument and the size it gives (ffmpeg rotates the frames
    upright before the filter)."""
    res = target_resolution(settings, video)
    w, h = (video.height, video.width) if is_rotated(video) else (video.width, video.height)
    if is_vertical(video):
        return f"{res}:-2", res, _rescale_even(res, h, w)
    return f"-2:{res}", _rescale_even(res, w, h), res


def bitrate_unit(settings: FfmpegSettings) -> str:
    value = parse_int_prefix(settings.max_bitrate) or 0
    return settings.max_bitrate.strip()[len(str(value)) :] or "k"


def _num(value: float) -> str:
    """A number as JavaScript prints it (``1724.5``, ``3449``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bitrates(settings: FfmpegSettings) -> tuple[int, int, float, str]:
    top = parse_int_prefix(settings.max_bitrate) or 0
    target = math.ceil(top / 1.45)  # Google's VP9 VOD recommendation, as Immich
    return top, target, target / 2, bitrate_unit(settings)


def _quality(settings: FfmpegSettings) -> tuple[str, str]:
    return ("q:v" if settings.cq_mode == "cqp" else "crf", str(settings.crf))


def _video_options(settings: FfmpegSettings, codec: str) -> tuple[list[tuple[str, str]], bool]:
    """(encoder options, two-pass) for the software encoder of ``codec``."""
    top, target, low, unit = _bitrates(settings)
    preset_index = PRESETS.index(settings.preset) if settings.preset in PRESETS else -1
    opts: list[tuple[str, str]] = []
    if settings.bframes > -1:
        opts.append(("bf", str(settings.bframes)))
    if settings.refs > 0:
        opts.append(("refs", str(settings.refs)))
    if settings.gop_size > 0:
        opts.append(("g", str(settings.gop_size)))
    threads = [("threads", str(settings.threads))] if settings.threads > 0 else []
    if codec == "vp9":
        two_pass = settings.two_pass
        if preset_index >= 0:
            opts.append(("cpu-used", str(min(preset_index, 5))))
        opts += [("row-mt", "1"), *threads]
        if top > 0 and two_pass:
            opts += [("b:v", f"{target}{unit}"), ("minrate", f"{_num(low)}{unit}"), ("maxrate", f"{top}{unit}")]
        else:
            opts += [_quality(settings), ("b:v", f"{top}{unit}")]
        return opts, two_pass
    if codec == "av1":
        if preset_index + 4 >= 0:
            opts.append(("preset", str(preset_index + 4)))
        opts.append(("crf", str(settings.crf)))
        params = ([f"lp={settings.threads}"] if settings.threads > 0 else []) + (
            [f"mbr={top}{unit}"] if top > 0 else []
        )
        if params:
            opts.append(("svtav1-params", ":".join(params)))
        return opts, settings.two_pass
    opts.append(("preset", settings.preset))
    opts += threads
    if settings.threads == 1:
        opts.append(("x264-params" if codec == "h264" else "x265-params", "frame-threads=1:pools=none"))
    two_pass = settings.two_pass and settings.accel == "disabled" and top > 0
    if two_pass:
        opts += [("b:v", f"{target}{unit}"), ("minrate", f"{_num(low)}{unit}"), ("maxrate", f"{top}{unit}")]
    elif top > 0:
        opts += [_quality(settings), ("maxrate", f"{top}{unit}"), ("bufsize", f"{top * 2}{unit}")]
    else:
        opts.append(_quality(settings))
    return opts, two_pass


def encode_plan(
    settings: FfmpegSettings, target: Target, video: VideoStream, audio: AudioStream | None
) -> EncodePlan:
    """The software encode of ``target`` (hardware modes fall back to it, as Immich's do)."""
    codec = settings.target_video_codec
    if codec not in VIDEO_ENCODERS:
        raise PlanError(f"Codec '{codec}' is unsupported")
    encode_video = target in (Target.ALL, Target.VIDEO)
    encode_audio = target in (Target.ALL, Target.AUDIO) and audio is not None
    audio_encoder = AUDIO_ENCODERS.get(settings.target_audio_codec, settings.target_audio_codec)
    options, two_pass = _video_options(settings, codec) if encode_video else ([], False)
    scale, width, height = (None, None, None)
    tone_map = None
    to_yuv420p = False
    if encode_video:
        if should_scale(settings, video):
            scale, width, height = scaled_size(settings, video)
        if video.is_hdr and settings.tonemap != "disabled":
            tone_map = settings.tonemap
        elif not video.pixel_format.endswith("420p"):
            to_yuv420p = True
    return EncodePlan(
        target=target,
        video_encoder=VIDEO_ENCODERS[codec] if encode_video else None,
        audio_encoder=audio_encoder if encode_audio else None,
        video_index=video.index,
        audio_index=audio.index if audio is not None else None,
        width=width,
        height=height,
        scale_filter=scale,
        tone_map=tone_map,
        to_yuv420p=to_yuv420p,
        options=tuple(options),
        two_pass=two_pass,
        hvc1_tag=codec == "hevc" and (encode_video or video.codec_name == "hevc"),
        audio_channels=MAX_AUDIO_CHANNELS if encode_audio else None,
    )


def ffmpeg_arguments(plan: EncodePlan, source: str, output: str) -> list[str]:
    """The plan as an ``ffmpeg`` command line (one pass; tone mapping as Debian's ffmpeg
    can do it, with ``zscale`` + ``tonemap``)."""
    args = ["-nostdin", "-y", "-i", source]
    args += ["-c:v", plan.video_encoder or "copy", "-c:a", plan.audio_encoder or "copy"]
    args += ["-movflags", "faststart", "-fps_mode", "passthrough", "-map", f"0:{plan.video_index}"]
    args += ["-map_metadata", "-1"]
    if plan.audio_index is not None:
        args += ["-map", f"0:{plan.audio_index}"]
    if plan.hvc1_tag:
        args += ["-tag:v", "hvc1"]
    filters = []
    if plan.scale_filter is not None:
        filters.append(f"scale={plan.scale_filter}")
    if plan.tone_map is not None:
        filters.append(
            "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
            f"tonemap=tonemap={plan.tone_map}:desat=0,zscale=t=bt709:m=bt709:r=pc,format=yuv420p"
        )
    elif plan.to_yuv420p:
        filters.append("format=yuv420p")
    if filters:
        args += ["-vf", ",".join(filters)]
    if plan.audio_encoder is not None:
        args += ["-ac", str(plan.audio_channels or MAX_AUDIO_CHANNELS)]
    for name, value in plan.options:
        args += [f"-{name}", value]
    return [*args, output]
