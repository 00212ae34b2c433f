"""Metadata extraction of videos writes Immich v3.1's stream tables (``asset_video``,
``asset_audio``, ``asset_keyframe``) next to the exif row, from videos made here with PyAV."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.metadata import stream_probe
from immich_trio.actors.metadata.keyframes import PacketTiming, cfr_output_frames, scan_packets
from immich_trio.sql import asset_streams
from immich_trio.sql.pool import Pool
from tests.actors import test_metadata_actor as harness
from tests.actors.video_samples import make_audio_only, make_video

Sql = Callable[..., list[tuple[Any, ...]]]

VIDEO_ROW = (
    'SELECT "codecName", "formatName", "formatLongName", "pixelFormat", profile, level, "frameCount",'
    ' "timeBase", index, bitrate > 0, "colorPrimaries", "colorTransfer", "colorMatrix", "dvProfile"'
    ' FROM asset_video WHERE "assetId" = %s'
)
AUDIO_ROW = 'SELECT "codecName", profile, index, bitrate > 0 FROM asset_audio WHERE "assetId" = %s'
KEYFRAME_ROW = (
    'SELECT pts, "accDuration", "ownDuration", "totalDuration", "packetCount", "outputFrames"'
    ' FROM asset_keyframe WHERE "assetId" = %s'
)
MP4 = ("mov,mp4,m4a,3gp,3g2,mj2", "QuickTime / MOV")


async def extract(nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, source: Path) -> str:
    actor = await harness.start(nursery, pool, media)
    asset_id, _ = harness.add_asset(sql, media, owner, source, name=source.name, kind="VIDEO")
    result = await harness.run_job(actor, asset_id)
    assert result.status == "success", result.error
    await harness.commit(pool, result)
    return asset_id


async def test_h264_with_audio_fills_the_three_tables_and_the_rotated_asset(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # 30 frames at 12 fps, a keyframe every 6 frames, turned 90° clockwise, AAC-LC mono.
    source = make_video(tmp_path / "clip.mp4", fps=12, frames=30, gop=6, rotation=-90, audio=True)
    asset_id = await extract(nursery, pool, media, owner, sql, source)

    assert sql(VIDEO_ROW, (asset_id,)) == [
        ("h264", *MP4, "yuv420p", 100, 10, 30, 12288, 0, True, 2, 2, 2, None)
    ]  # High profile (100), level 1.0, mp4's 1/12288 time base, colours unspecified (2)
    assert sql(AUDIO_ROW, (asset_id,)) == [("aac", 2, 1, True)]  # AAC-LC is object type 2
    # One tick = 1/12288 s, one frame = 1024 ticks: keyframes at frames 0, 6, 12, 18, 24.
    assert sql(KEYFRAME_ROW, (asset_id,)) == [
        ([0, 6144, 12288, 18432, 24576], [1024, 7168, 13312, 19456, 25600], [1024] * 5, 30720, 30, 30)
    ]
    [(duration, width, height)] = sql("SELECT duration, width, height FROM asset WHERE id = %s", (asset_id,))
    assert (duration, width, height) == (2500, 48, 64)
    [(fps, ew, eh, orientation)] = sql(
        'SELECT fps, "exifImageWidth", "exifImageHeight", orientation FROM asset_exif WHERE "assetId" = %s',
        (asset_id,),
    )
    assert (fps, ew, eh, orientation) == (12.0, 64, 48, "6")

    # What the HLS segmenter reads back: the same keyframes and the time base to read them in.
    async with pool.connection() as conn:
        keyframes = await asset_streams.keyframes_for_asset(conn, asset_id)
    assert keyframes is not None
    assert (keyframes.time_base, keyframes.stream_index, keyframes.pts[1]) == (12288, 0, 6144)


async def test_ten_bit_hdr10_hevc_records_main10_and_pq(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    source = make_video(
        tmp_path / "hdr.mp4", codec="libx265", pix_fmt="yuv420p10le", pq_hdr=True, frames=12, gop=12
    )
    asset_id = await extract(nursery, pool, media, owner, sql, source)
    [row] = sql(VIDEO_ROW, (asset_id,))
    # HEVC Main 10 (profile 2); BT.2020 primaries (9), PQ / SMPTE 2084 transfer (16), BT.2020
    # non-constant-luminance matrix (9): the HDR10 signature the transcoder tone-maps from.
    assert row[:4] == ("hevc", *MP4, "yuv420p10le")
    assert (row[4], row[10], row[11], row[12]) == (2, 9, 16, 9)
    assert sql(AUDIO_ROW, (asset_id,)) == []
    [(pts, _, _, _, packets, _)] = sql(KEYFRAME_ROW, (asset_id,))
    assert pts == [0] and packets == 12
    [(orientation,)] = sql('SELECT orientation FROM asset_exif WHERE "assetId" = %s', (asset_id,))
    assert orientation == "1"  # no rotation is Immich's "Horizontal"


async def test_re_extraction_replaces_the_rows_of_a_changed_original(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    first = make_video(tmp_path / "first.mp4", frames=24, gop=6, audio=True)
    actor = await harness.start(nursery, pool, media)
    asset_id, path = harness.add_asset(sql, media, owner, first, name="clip.mp4", kind="VIDEO")
    await harness.commit(pool, await harness.run_job(actor, asset_id))
    assert sql('SELECT count(*) FROM asset_audio WHERE "assetId" = %s', (asset_id,)) == [(1,)]

    # The original is replaced in place (a library file edited on disk): silent, one GOP.
    shutil.copyfile(make_video(tmp_path / "second.mp4", frames=12, gop=12, fps=24), path)
    await harness.commit(pool, await harness.run_job(actor, asset_id))
    assert sql(AUDIO_ROW, (asset_id,)) == []  # the stale audio row is gone
    [(pts, acc, _, total, packets, frames)] = sql(KEYFRAME_ROW, (asset_id,))
    assert (pts, acc, total, packets, frames) == ([0], [512], 6144, 12, 12)
    [(count, frame_count)] = sql(
        'SELECT count(*) OVER (), "frameCount" FROM asset_video WHERE "assetId" = %s', (asset_id,)
    )
    assert (count, frame_count) == (1, 12)


async def test_audio_only_mp4_gets_its_audio_row_and_no_video_rows(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # As with Immich's ffprobe: no video stream is no probe failure; the thumbnail job fails.
    source = make_audio_only(tmp_path / "voice.mp4", seconds=0.5)
    asset_id = await extract(nursery, pool, media, owner, sql, source)
    assert sql(AUDIO_ROW, (asset_id,)) == [("aac", 2, 0, True)]
    assert sql('SELECT count(*) FROM asset_video WHERE "assetId" = %s', (asset_id,)) == [(0,)]
    assert sql('SELECT count(*) FROM asset_keyframe WHERE "assetId" = %s', (asset_id,)) == [(0,)]
    [(duration, width, orientation)] = sql(
        'SELECT a.duration, a.width, e.orientation FROM asset a JOIN asset_exif e ON e."assetId" = a.id'
        " WHERE a.id = %s",
        (asset_id,),
    )
    assert duration == 512 and width is None and orientation is None  # 0.512 s of AAC frames


def tag_like_an_iphone(path: Path) -> Path:
    """QuickTime Keys CreationDate with its offset and ISO 6709 GPS, as an iPhone writes them."""
    subprocess.run(
        [
            "exiftool", "-q", "-overwrite_original", "-Keys:CreationDate=2023:05:06 07:08:09+02:00",
            "-Keys:GPSCoordinates=48.8584, 2.2945, 35", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


async def test_exiftool_dates_and_gps_of_a_phone_video_still_apply(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    source = tag_like_an_iphone(make_video(tmp_path / "phone.mp4", rotation=90, audio=True))
    asset_id = await extract(nursery, pool, media, owner, sql, source)
    [(taken, zone, lat, lon, orientation)] = sql(
        'SELECT "dateTimeOriginal", "timeZone", latitude, longitude, orientation FROM asset_exif'
        ' WHERE "assetId" = %s',
        (asset_id,),
    )
    # The zone comes from the GPS position (as exiftool-vendored infers it), +02:00 in May.
    assert taken == datetime(2023, 5, 6, 5, 8, 9, tzinfo=UTC) and zone == "Europe/Paris"
    assert (lat, lon) == (pytest.approx(48.8584), pytest.approx(2.2945))
    assert orientation == "8"  # 90° counter-clockwise: Immich's Rotate270CW
    [(created, local, width, height)] = sql(
        'SELECT "fileCreatedAt", "localDateTime", width, height FROM asset WHERE id = %s', (asset_id,)
    )
    assert created == taken and local == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert (width, height) == (48, 64)
    assert sql('SELECT "codecName" FROM asset_video WHERE "assetId" = %s', (asset_id,)) == [("h264",)]


def test_keyframe_scan_demuxes_without_decoding_past_the_first_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A few seconds (6 s at 24 fps, 144 packets): only the packets up to the first frame are
    # decoded (for its display matrix); every keyframe is found from the packets' flags.
    source = make_video(tmp_path / "long.mp4", width=160, height=120, fps=24, frames=144, gop=24)
    decoded: list[object] = []
    first_rotation = stream_probe._first_rotation

    def counting(packet: Any) -> list[float]:
        decoded.append(packet)
        return first_rotation(packet)

    monkeypatch.setattr(stream_probe, "_first_rotation", counting)
    probe = stream_probe.probe_streams(str(source))
    assert probe.packets is not None
    assert len(probe.packets.pts) == 6 and probe.packets.packet_count == 144
    # x264's B-frames delay the first frame by the reorder depth (2 here): 3 of 144 packets.
    assert len(decoded) <= 4


def test_profile_names_map_as_immich_enums_do() -> None:
    code = stream_probe.profile_code
    assert code(stream_probe.H264_PROFILES, "High 4:4:4 Predictive") == 244
    assert code(stream_probe.H264_PROFILES, "Constrained Baseline") == 66
    assert code(stream_probe.H264_PROFILES, "High 10 Intra") is None  # no such enum key
    assert code(stream_probe.HEVC_PROFILES, "Main Still Picture") == 3
    assert code(stream_probe.AAC_PROFILES, "HE-AACv2") == 29
    assert code(stream_probe.AAC_PROFILES, "xHE-AAC") == 42


def test_packet_scan_counts_discarded_pre_roll_and_variable_frame_rate() -> None:
    def packet(pts: int | None, duration: int, key: bool = False, discard: bool = False) -> PacketTiming:
        return PacketTiming(pts=pts, duration=duration, is_keyframe=key, is_discard=discard)

    scan = scan_packets(
        [
            packet(-100, 100, key=True, discard=True),  # edit-list pre-roll: in the durations only
            packet(0, 100),
            packet(None, 100),  # no pts: skipped entirely, as ffprobe's N/A
            packet(100, 300, key=True),  # a long (variable frame rate) keyframe
            packet(400, 100),
        ]
    )
    assert scan is not None
    assert (scan.pts, scan.acc_duration, scan.own_duration) == ((-100, 100), (100, 500), (100, 300))
    assert (scan.total_duration, scan.packet_count) == (600, 3)
    # 3 packets over 600 ticks = one slot per 200 ticks: the 300-tick frame spans 1.5 slots.
    assert scan.output_frames == cfr_output_frames([(0, 100), (100, 300), (400, 100)], 600)
    assert scan_packets([packet(0, 100, key=True, discard=True)]) is None  # nothing kept
    assert scan_packets([packet(0, 100)]) is None  # no keyframe


async def test_an_animated_gif_is_probed_like_a_video(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # Immich runs ffprobe on .gif images too: the duration, frame rate and stream rows are
    # the probe's, not exiftool's.
    from PIL import Image

    source = tmp_path / "spin.gif"
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100, loop=0)
    actor = await harness.start(nursery, pool, media)
    asset_id, _ = harness.add_asset(sql, media, owner, source, name="spin.gif", kind="IMAGE")
    result = await harness.run_job(actor, asset_id)
    assert result.status == "success", result.error
    await harness.commit(pool, result)
    assert sql("SELECT duration, width, height FROM asset WHERE id = %s", (asset_id,)) == [(300, 40, 30)]
    assert sql('SELECT fps, orientation FROM asset_exif WHERE "assetId" = %s', (asset_id,)) == [(10.0, "1")]
    assert sql('SELECT "codecName", "formatName", "timeBase" FROM asset_video WHERE "assetId" = %s',
               (asset_id,)) == [("gif", "gif", 100)]  # fmt: skip
    assert sql('SELECT "packetCount" FROM asset_keyframe WHERE "assetId" = %s', (asset_id,)) == [(3,)]


def test_a_keyframe_list_past_the_integer_columns_is_not_written() -> None:
    # Hours of video in a 90 kHz time base pass int32: the v3.1 columns are ``integer``, and
    # Immich's insert would fail the whole extraction; the keyframe row is left out instead.
    scan = scan_packets(
        PacketTiming(pts=pts, duration=3000, is_keyframe=pts != 2**31 - 3000, is_discard=False)
        for pts in (0, 90_000, 2**31 - 3000, 2**31)
    )
    assert scan is not None and not scan.fits_int32()
    probe = stream_probe.StreamProbe(
        format_name="mpegts", format_long_name="MPEG-TS", duration=24000.0, bitrate=0, video=None,
        audio=None, packets=scan,
    )  # fmt: skip
    assert probe.keyframe_row() is None


def test_probe_duration_rounds_half_up_and_an_upside_down_video_sets_no_orientation() -> None:
    from immich_trio.actors.metadata.extract import extract_metadata
    from immich_trio.actors.metadata.records import FileFacts, VideoFacts

    when = datetime(2024, 1, 1, tzinfo=UTC)
    facts = FileFacts(size=1, mtime=when, file_created_at=when, file_modified_at=when)

    def run(video: VideoFacts) -> Any:
        return extract_metadata({}, facts, original_path="v.mp4", is_video=True, video=video)

    assert run(VideoFacts(duration_seconds=1.0005)).duration_ms == 1001  # Math.round, as Immich
    assert run(VideoFacts(duration_seconds=None)).duration_ms is None
    # ffprobe reports an upside-down phone video as -180°, a value Immich's switch leaves out.
    upside_down = run(VideoFacts(width=64, height=48, rotation=-180))
    assert upside_down.exif.orientation is None and (upside_down.width, upside_down.height) == (64, 48)
    assert run(VideoFacts(width=64, height=48, rotation=180)).exif.orientation == "3"


def test_anamorphic_width_follows_the_display_aspect_ratio(tmp_path: Path) -> None:
    # 64x48 coded with 4:3 pixels shows as 16:9: Immich's width is round(48 * 16 / 9) = 85.
    import av
    import numpy as np

    source = tmp_path / "anamorphic.mp4"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode())
    probe = stream_probe.probe_streams(str(source))
    assert probe.video is not None and (probe.video.width, probe.video.height) == (85, 48)
    assert probe.facts().width == 85


def test_the_default_audio_track_is_recorded_before_a_richer_one(tmp_path: Path) -> None:
    # asset_audio holds one row: Immich ranks the streams by the default disposition, then
    # by bit rate. The MP4 muxer marks the first track default; the second one is richer.
    import av
    import numpy as np

    source = tmp_path / "two-tracks.m4a"
    with av.open(str(source), "w", format="mp4") as out:
        quiet = out.add_stream("aac", rate=16000)
        rich = out.add_stream("aac", rate=16000)
        assert isinstance(quiet, av.AudioStream) and isinstance(rich, av.AudioStream)
        quiet.bit_rate, rich.bit_rate = 24000, 96000
        out.start_encoding()
        noise = np.random.default_rng(1).random((1, 16000), np.float32) - 0.5
        for stream in (quiet, rich):
            for start in range(0, 16000, 1024):
                frame = av.AudioFrame.from_ndarray(noise[:, start : start + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
                out.mux(stream.encode(frame))
            out.mux(stream.encode())
    probe = stream_probe.probe_streams(str(source))
    assert probe.audio is not None and probe.audio.index == 0
    assert probe.audio_row() == {"bitrate": probe.audio.bitrate, "index": 0, "profile": 2, "codecName": "aac"}
    assert 0 < probe.audio.bitrate < 60000 and probe.video is None
