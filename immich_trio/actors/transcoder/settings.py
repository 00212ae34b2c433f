"""The system config's ``ffmpeg`` section as typed settings, and the probe facts the
transcoding decision reads (Immich's ``VideoStreamInfo``, ``AudioStreamInfo``, ``VideoFormat``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["AudioStream", "FfmpegSettings", "VideoFormat", "VideoStream"]

#: FFmpeg colour transfer characteristics that mean HDR (``smpte2084``, ``arib-std-b67``).
HDR_TRANSFERS = frozenset({16, 18})


@attrs.frozen(kw_only=True)
class FfmpegSettings:
    """``ffmpeg`` of the system config (defaults as Immich v3.1's)."""

    crf: int = 23
    threads: int = 0
    preset: str = "ultrafast"
    target_video_codec: str = "h264"
    accepted_video_codecs: tuple[str, ...] = ("h264",)
    target_audio_codec: str = "aac"
    accepted_audio_codecs: tuple[str, ...] = ("aac", "mp3", "opus")
    accepted_containers: tuple[str, ...] = ("mov", "ogg", "webm")
    target_resolution: str = "720"
    max_bitrate: str = "0"
    bframes: int = -1
    refs: int = 0
    gop_size: int = 0
    temporal_aq: bool = False
    cq_mode: str = "auto"
    two_pass: bool = False
    preferred_hw_device: str = "auto"
    transcode: str = "required"
    tonemap: str = "hable"
    accel: str = "disabled"
    accel_decode: bool = True

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FfmpegSettings:
        """From the config's ``ffmpeg`` section; the target codecs count as accepted, as
        Immich's config loader makes them."""
        d = cls()
        video = tuple(section.get("acceptedVideoCodecs", d.accepted_video_codecs))
        audio = tuple(section.get("acceptedAudioCodecs", d.accepted_audio_codecs))
        target_video = str(section.get("targetVideoCodec", d.target_video_codec))
        target_audio = str(section.get("targetAudioCodec", d.target_audio_codec))
        return cls(
            crf=int(section.get("crf", d.crf)),
            threads=int(section.get("threads", d.threads)),
            preset=str(section.get("preset", d.preset)),
            target_video_codec=target_video,
            accepted_video_codecs=video if target_video in video else (*video, target_video),
            target_audio_codec=target_audio,
            accepted_audio_codecs=audio if target_audio in audio else (*audio, target_audio),
            accepted_containers=tuple(section.get("acceptedContainers", d.accepted_containers)),
            target_resolution=str(section.get("targetResolution", d.target_resolution)),
            max_bitrate=str(section.get("maxBitrate", d.max_bitrate)),
            bframes=int(section.get("bframes", d.bframes)),
            refs=int(section.get("refs", d.refs)),
            gop_size=int(section.get("gopSize", d.gop_size)),
            temporal_aq=bool(section.get("temporalAQ", d.temporal_aq)),
            cq_mode=str(section.get("cqMode", d.cq_mode)),
            two_pass=bool(section.get("twoPass", d.two_pass)),
            preferred_hw_device=str(section.get("preferredHwDevice", d.preferred_hw_device)),
            transcode=str(section.get("transcode", d.transcode)),
            tonemap=str(section.get("tonemap", d.tonemap)),
            accel=str(section.get("accel", d.accel)),
            accel_decode=bool(section.get("accelDecode", d.accel_decode)),
        )


@attrs.frozen(kw_only=True)
class VideoStream:
    """The main video stream, as ffprobe describes it (size before rotation)."""

    index: int = 0
    width: int
    height: int
    rotation: int = 0
    codec_name: str
    pixel_format: str = "yuv420p"
    bitrate: int = 0
    frame_count: int = 0
    color_transfer: int = 2

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS


@attrs.frozen(kw_only=True)
class AudioStream:
    index: int = 1
    codec_name: str
    bitrate: int = 0


@attrs.frozen(kw_only=True)
class VideoFormat:
    """The container as ffprobe names it (``format_name`` may be a list, e.g.
    ``mov,mp4,m4a,3gp,3g2,mj2``)."""

    format_name: str
    format_long_name: str = ""
