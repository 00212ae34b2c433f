"""Immich's HLS arithmetic: variant sizes, codec strings, the segmentation of odd frame rates,
and which variants a main playlist offers."""

from __future__ import annotations

from immich_trio.actors.video_stream.plan import (
    StreamInfo,
    codec_string,
    main_playlist,
    media_playlist,
    output_size,
    position_to_segment,
    segmentation,
)


def _info(width: int, height: int, *, rotation: int = 0, frames: int = 300, tb: int = 90_000,
          duration: int = 3003) -> StreamInfo:  # fmt: skip
    return StreamInfo(width=width, height=height, rotation=rotation, time_base=tb, packet_count=frames,
                      total_duration=frames * duration, output_frames=frames)  # fmt: skip


def test_output_sizes_keep_the_aspect_with_an_even_long_side() -> None:
    assert output_size(_info(1920, 1080), 720) == (1280, 720)
    assert output_size(_info(1080, 1920), 720) == (720, 1280)
    assert output_size(_info(1920, 1080, rotation=-90), 480) == (480, 852)  # 853.3 → 853 → even
    assert output_size(_info(1440, 1080), 480) == (640, 480)


def test_codec_strings_pick_the_lowest_level_that_fits() -> None:
    assert codec_string("h264", 1280, 720, 30) == "avc1.64001f"
    assert codec_string("h264", 1920, 1080, 60) == "avc1.64002a"
    assert codec_string("h264", 3840, 2160, 30) == "avc1.640033"
    assert codec_string("hevc", 1920, 1080, 30) == "hvc1.1.6.L120.B0"
    assert codec_string("av1", 3840, 2160, 60) == "av01.0.13M.08"


def test_ntsc_rates_make_whole_frame_segments() -> None:
    seg = segmentation(_info(1920, 1080))  # 90000 / 3003 = 29.97 fps
    assert (seg.frames_per_segment, seg.segment_count) == (60, 5)
    assert f"{seg.segment_seconds:.6f}" == "2.002000"
    assert position_to_segment(seg, 0) == 0
    assert position_to_segment(seg, 4.01) == 2
    assert position_to_segment(seg, 999) == 4
    assert media_playlist(_info(1920, 1080), seg).count("#EXTINF:2.002000,") == 5


def test_the_main_playlist_offers_no_rung_above_the_source() -> None:
    text = main_playlist("s", _info(1280, 720), ["h264", "hevc", "av1"], [480, 720, 1080])
    assert text is not None
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "s/0/playlist.m3u8", "s/1/playlist.m3u8", "s/2/playlist.m3u8",
        "s/3/playlist.m3u8", "s/4/playlist.m3u8", "s/5/playlist.m3u8",
    ]  # fmt: skip
    assert "FRAME-RATE=29.970" in text
    assert main_playlist("s", _info(1280, 720), ["h264"], [1080]) is None
