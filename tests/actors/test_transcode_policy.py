"""Immich's transcoding decision and encoder settings, table-driven on probe-shaped inputs
(the cases and the expected ffmpeg arguments follow Immich's media.service.spec.ts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from immich_trio.actors.transcoder.plan import (
    PlanError,
    check_acceleration,
    encode_plan,
    ffmpeg_arguments,
)
from immich_trio.actors.transcoder.policy import (
    Target,
    UnsupportedPolicy,
    is_remux_required,
    parse_bitrate_bps,
    transcode_target,
)
from immich_trio.actors.transcoder.settings import (
    AudioStream,
    FfmpegSettings,
    VideoFormat,
    VideoStream,
)
from immich_trio.actors.transcoder.tonemap import CURVES, tone_map_frame

H264_1080 = VideoStream(index=0, width=1920, height=1080, codec_name="h264", bitrate=8_000_000)
H264_720 = VideoStream(index=0, width=1280, height=720, codec_name="h264", bitrate=3_000_000)
HEVC_4K = VideoStream(index=0, width=3840, height=2160, codec_name="hevc", bitrate=40_000_000)
H264_10BIT = VideoStream(index=0, width=1280, height=720, codec_name="h264", pixel_format="yuv420p10le")
HDR_HEVC = VideoStream(index=0, width=3840, height=2160, codec_name="hevc", pixel_format="yuv420p10le", color_transfer=16)
PORTRAIT = VideoStream(index=0, width=1080, height=1920, codec_name="hevc")
ROTATED = VideoStream(index=0, width=1920, height=1080, rotation=270, codec_name="hevc")
ODD = VideoStream(index=0, width=641, height=481, codec_name="h264")
AAC = AudioStream(index=1, codec_name="aac")
PCM = AudioStream(index=1, codec_name="pcm_s16le")
MP4 = VideoFormat(format_name="mov,mp4,m4a,3gp,3g2,mj2", format_long_name="QuickTime / MOV")
MKV = VideoFormat(format_name="matroska,webm", format_long_name="Matroska / WebM")
AVI = VideoFormat(format_name="avi", format_long_name="AVI (Audio Video Interleaved)")


def settings(**kw: Any) -> FfmpegSettings:
    return FfmpegSettings.from_config(kw)


@pytest.mark.parametrize(
    ("config", "video", "audio", "target"),
    [
        # disabled: never
        ({"transcode": "disabled"}, HEVC_4K, PCM, Target.NONE),
        # all: always, both streams
        ({"transcode": "all"}, H264_720, AAC, Target.ALL),
        ({"transcode": "all"}, H264_720, None, Target.VIDEO),
        # required: codec not accepted, or not 4:2:0 8-bit
        ({"transcode": "required"}, H264_1080, AAC, Target.NONE),
        ({"transcode": "required"}, HEVC_4K, AAC, Target.VIDEO),
        ({"transcode": "required", "acceptedVideoCodecs": ["h264", "hevc"]}, HEVC_4K, AAC, Target.NONE),
        ({"transcode": "required"}, H264_10BIT, AAC, Target.VIDEO),
        ({"transcode": "required"}, H264_720, PCM, Target.AUDIO),
        ({"transcode": "required"}, HEVC_4K, PCM, Target.ALL),
        # the target codec counts as accepted even when the list omits it
        ({"transcode": "required", "targetVideoCodec": "hevc", "acceptedVideoCodecs": []}, HEVC_4K, AAC, Target.NONE),
        # optimal: also above the target resolution (short side)
        ({"transcode": "optimal"}, H264_1080, AAC, Target.VIDEO),
        ({"transcode": "optimal"}, H264_720, AAC, Target.NONE),
        ({"transcode": "optimal", "targetResolution": "original"}, H264_1080, AAC, Target.NONE),
        ({"transcode": "optimal", "targetResolution": "1080"}, H264_1080, AAC, Target.NONE),
        # bitrate: also above maxBitrate
        ({"transcode": "bitrate", "maxBitrate": "5000k"}, H264_1080, AAC, Target.VIDEO),
        ({"transcode": "bitrate", "maxBitrate": "10M"}, H264_1080, AAC, Target.NONE),
        ({"transcode": "bitrate", "maxBitrate": "5000k"}, H264_720, AAC, Target.NONE),
    ],
)
def test_transcode_target_per_policy(
    config: dict[str, Any], video: VideoStream, audio: AudioStream | None, target: Target
) -> None:
    assert transcode_target(settings(**config), video, audio) is target


def test_an_unknown_policy_is_refused_as_immich_refuses_it() -> None:
    with pytest.raises(UnsupportedPolicy, match="Unsupported transcode policy: sometimes"):
        transcode_target(settings(transcode="sometimes"), H264_720, AAC)


@pytest.mark.parametrize(
    ("config", "fmt", "remux"),
    [
        ({}, MP4, False),  # QuickTime/MP4 is "mov", accepted by default
        ({"acceptedContainers": []}, MP4, True),
        ({}, MKV, True),
        ({"acceptedContainers": ["matroska,webm"]}, MKV, False),
        ({}, AVI, True),
        ({"transcode": "disabled"}, AVI, False),
    ],
)
def test_remux_when_the_container_is_not_accepted(config: dict[str, Any], fmt: VideoFormat, remux: bool) -> None:
    assert is_remux_required(settings(**config), fmt) is remux


@pytest.mark.parametrize(("value", "bps"), [("0", 0), ("4500k", 4_500_000), ("10M", 10_000_000), ("2500", 2500), ("x", 0)])
def test_max_bitrate_parsing(value: str, bps: int) -> None:
    assert parse_bitrate_bps(value) == bps


def args_of(config: dict[str, Any], video: VideoStream, audio: AudioStream | None = AAC, target: Target = Target.ALL) -> str:
    plan = encode_plan(settings(**config), target, video, audio)
    return " ".join(ffmpeg_arguments(plan, "in", "out"))


@pytest.mark.parametrize(
    ("config", "video", "expected"),
    [
        # Immich's default target: h264, 720p short side, ultrafast, CRF 23
        ({}, HEVC_4K, "-c:v libx264 -c:a aac"),
        ({}, HEVC_4K, "-vf scale=-2:720"),
        ({}, HEVC_4K, "-preset ultrafast -crf 23"),
        ({}, PORTRAIT, "-vf scale=720:-2"),
        ({}, ROTATED, "-vf scale=720:-2"),  # sideways: vertical, as Immich's isVideoRotated says
        ({"targetResolution": "original"}, ODD, "-vf scale=-2:480"),  # odd dimensions made even
        ({}, ODD, "-vf scale=-2:720"),  # Immich scales odd sizes to the target, even upwards
        ({}, H264_10BIT, "-vf format=yuv420p"),
        ({"maxBitrate": "4500k"}, HEVC_4K, "-crf 23 -maxrate 4500k -bufsize 9000k"),
        ({"maxBitrate": "4500k", "twoPass": True}, HEVC_4K, "-b:v 3104k -minrate 1552k -maxrate 4500k"),
        ({"maxBitrate": "4500", "twoPass": True}, HEVC_4K, "-b:v 3104k -minrate 1552k -maxrate 4500k"),
        ({"cqMode": "cqp"}, HEVC_4K, "-q:v 23"),
        ({"threads": 2}, HEVC_4K, "-threads 2 -crf 23"),
        ({"threads": 1}, HEVC_4K, "-threads 1 -x264-params frame-threads=1:pools=none"),
        ({"bframes": 3, "refs": 2, "gopSize": 60}, HEVC_4K, "-bf 3 -refs 2 -g 60"),
        ({"targetVideoCodec": "hevc"}, H264_1080, "-c:v libx265"),
        ({"targetVideoCodec": "hevc"}, H264_1080, "-tag:v hvc1"),
        ({"targetVideoCodec": "vp9"}, HEVC_4K, "-cpu-used 5 -row-mt 1 -crf 23 -b:v 0k"),
        ({"targetVideoCodec": "vp9", "preset": "medium", "maxBitrate": "4500k"}, HEVC_4K, "-cpu-used 3 -row-mt 1 -crf 23 -b:v 4500k"),
        ({"targetVideoCodec": "vp9", "maxBitrate": "4500k", "twoPass": True}, HEVC_4K, "-b:v 3104k -minrate 1552k -maxrate 4500k"),
        ({"targetVideoCodec": "av1"}, HEVC_4K, "-c:v libsvtav1"),
        ({"targetVideoCodec": "av1", "threads": 4, "maxBitrate": "2M"}, HEVC_4K, "-preset 12 -crf 23 -svtav1-params lp=4:mbr=2M"),
        ({"targetResolution": "original"}, HEVC_4K, "-c:v libx264 -c:a aac -movflags faststart"),
    ],
)
def test_encoder_arguments_as_immich_builds_them(config: dict[str, Any], video: VideoStream, expected: str) -> None:
    assert expected in args_of(config, video)


def test_output_size_keeps_the_aspect_with_even_dimensions() -> None:
    plan = encode_plan(settings(targetResolution="480"), Target.VIDEO, VideoStream(width=1000, height=562, codec_name="hevc"), None)
    assert (plan.width, plan.height) == (854, 480)  # ffmpeg's -2: 480·1000/562 to the nearest even
    plan = encode_plan(settings(), Target.VIDEO, VideoStream(width=1000, height=562, codec_name="hevc"), None)
    assert (plan.width, plan.height) == (None, None)  # smaller than the target: kept
    plan = encode_plan(settings(), Target.VIDEO, ROTATED, None)
    assert (plan.width, plan.height) == (720, 1280)  # upright first, then scaled
    plan = encode_plan(settings(targetResolution="original"), Target.VIDEO, HEVC_4K, None)
    assert (plan.width, plan.height, plan.scale_filter) == (None, None, None)


def test_hdr_is_tone_mapped_unless_disabled() -> None:
    plan = encode_plan(settings(), Target.VIDEO, HDR_HEVC, None)
    assert (plan.tone_map, plan.to_yuv420p) == ("hable", False)
    plan = encode_plan(settings(tonemap="disabled"), Target.VIDEO, HDR_HEVC, None)
    assert (plan.tone_map, plan.to_yuv420p) == (None, True)


def test_only_the_required_streams_are_encoded() -> None:
    audio_only = args_of({}, H264_720, PCM, Target.AUDIO)
    assert "-c:v copy -c:a aac" in audio_only and "-vf" not in audio_only and "-crf" not in audio_only
    video_only = args_of({}, HEVC_4K, AAC, Target.VIDEO)
    assert "-c:v libx264 -c:a copy" in video_only and "-map 0:0 -map_metadata -1 -map 0:1" in video_only
    remux = args_of({}, H264_720, AAC, Target.NONE)
    assert "-c:v copy -c:a copy" in remux


@pytest.mark.parametrize(
    ("config", "dri", "error"),
    [
        ({"accel": "disabled"}, [], None),
        ({"accel": "nvenc"}, [], None),  # needs no /dev/dri: falls back to software
        ({"accel": "vaapi"}, [], "No /dev/dri devices found. If using Docker, make sure at least one /dev/dri device is mounted"),
        ({"accel": "qsv"}, ["renderD128"], None),
        ({"accel": "qsv", "preferredHwDevice": "/dev/dri/renderD129"}, ["renderD128"], "Device 'renderD129' does not exist"),
        ({"accel": "rkmpp", "targetVideoCodec": "vp9"}, ["renderD128"], "RKMPP acceleration does not support codec 'VP9'"),
        ({"accel": "nvenc", "targetVideoCodec": "vp9"}, [], "NVENC acceleration does not support codec 'VP9'"),
        ({"accel": "quantum"}, [], "QUANTUM acceleration is unsupported"),
    ],
)
def test_hardware_acceleration_without_hardware(config: dict[str, Any], dri: list[str], error: str | None) -> None:
    if error is None:
        check_acceleration(settings(**config), dri)
    else:
        with pytest.raises(PlanError, match=error):
            check_acceleration(settings(**config), dri)


def test_an_unknown_target_codec_is_refused() -> None:
    with pytest.raises(PlanError, match="Codec 'mpeg2' is unsupported"):
        encode_plan(settings(targetVideoCodec="mpeg2"), Target.VIDEO, HEVC_4K, None)


@pytest.mark.parametrize("curve", ["hable", "mobius", "reinhard"])
def test_tone_curves_map_the_peak_to_white_and_keep_order(curve: str) -> None:
    sig = np.array([0.1, 0.3, 1.0, 2.03, 10.0, 100.0], dtype=np.float32)
    mapped = CURVES[curve](sig)
    assert mapped[-1] == pytest.approx(1.0, abs=1e-4)
    assert list(mapped) == sorted(mapped) and all(0 < m <= 1.0001 for m in mapped)


def test_mobius_is_linear_below_its_knee_and_hable_matches_ffmpeg() -> None:
    assert float(CURVES["mobius"](np.array([0.25], dtype=np.float32))[0]) == pytest.approx(0.25)
    # FFmpeg's hable: (x(Ax+CB)+DE)/(x(Ax+B)+DF) - E/F, over its value at the peak (100)
    assert float(CURVES["hable"](np.array([2.03], dtype=np.float32))[0]) == pytest.approx(0.3607 / 0.9042, abs=2e-3)


def test_a_grey_pq_frame_stays_grey_and_black_stays_black() -> None:
    frame = np.zeros((2, 2, 3), dtype=np.uint16)
    frame[0, 0] = (51400, 51400, 51400)  # PQ 200/255
    out = tone_map_frame(frame, 16, "hable")
    assert tuple(out[0, 0]) == (233, 233, 233) and tuple(out[1, 1]) == (0, 0, 0)
