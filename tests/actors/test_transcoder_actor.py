"""The transcoder actor on a real database: encoded files on disk (decoded back with PyAV),
the ``encoded_video`` rows its answers commit, and what it leaves behind on bad input."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import trio
from PIL import Image
from test_thumbnailer_actor import NOW, add_asset, apply, save_config
from test_thumbnailer_actor import run_job as run_thumbnail_job
from video_samples import make_video

from immich_trio import sysconfig
from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.actors.transcoder.actor import (
    TEMP_SUFFIX,
    TranscoderActor,
    codec_name,
    run_stoppable,
    sweep_stale_temps,
)
from immich_trio.actors.transcoder.encode import TranscodeStopped, run_plan
from immich_trio.actors.transcoder.plan import encode_plan
from immich_trio.actors.transcoder.policy import Target
from immich_trio.actors.transcoder.settings import FfmpegSettings, VideoStream
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

LIMIT = 60  # real clock: encoding runs in threads
Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
async def actor(nursery: trio.Nursery, pool: Pool, media: Path, config_watch: ConfigWatch) -> TranscoderActor:
    actor = TranscoderActor(pool, media)
    await nursery.start(actor.run)
    return actor


async def run_job(actor: TranscoderActor, name: str = "AssetEncodeVideo", **data: Any) -> JobResult:
    job = Job(id=1, queue="videoConversion", name=name, data=data, attempt=1, max_attempts=3, created_at=NOW)
    with trio.fail_after(LIMIT):
        result: JobResult = await actor.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


async def set_ffmpeg(pool: Pool, watch: ConfigWatch, **ffmpeg: Any) -> None:
    config = sysconfig.defaults()
    config["ffmpeg"].update(ffmpeg)
    await save_config(pool, watch, config)


def make_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def encoded_files(media: Path) -> list[Path]:
    root = media / "encoded-video"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def streams_of(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = [s.codec_context.name for s in container.streams.audio]
        decoded = list(container.decode(video=0))
        frames = len(decoded)
        return {
            "format": container.format.name,
            "codec": video.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "frames": frames,
            "audio": audio,
            "rotation": round(decoded[0].rotation) if decoded else None,
        }


def encoded_row(sql: Sql, asset_id: str) -> list[tuple[Any, ...]]:
    return sql("SELECT path FROM asset_file WHERE \"assetId\" = %s AND type = 'encoded_video'", (asset_id,))


async def test_hevc_with_required_policy_becomes_an_h264_mp4(
    actor: TranscoderActor, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "hevc.mp4", codec="libx265", width=96, height=64, audio=True)
    asset_id, _ = add_asset(sql, media, owner, source, name="clip.mp4", kind="VIDEO")

    result = await run_job(actor, id=asset_id)

    assert (result.status, result.error) == ("success", None)
    output = files.encoded_video_path(media, owner, asset_id)
    assert output == media / "encoded-video" / owner / asset_id[:2] / asset_id[2:4] / f"{asset_id}.mp4"
    assert encoded_files(media) == [output]  # no temp file left beside it
    assert streams_of(output) == {
        "format": "mov,mp4,m4a,3gp,3g2,mj2", "codec": "h264", "size": (96, 64), "pix_fmt": "yuv420p",
        "frames": 24, "audio": ["aac"], "rotation": 0,
    }
    head = output.read_bytes()[:64]
    assert head[4:8] == b"ftyp" and b"moov" in head  # faststart: the index before the data
    assert encoded_row(sql, asset_id) == []  # the row comes with the commit
    await apply(pool, result)
    assert encoded_row(sql, asset_id) == [(str(output),)]


async def test_rotated_ten_bit_and_vp9_sources(
    actor: TranscoderActor, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    rotated = make_video(tmp_path / "rot.mp4", codec="libx265", width=96, height=64, rotation=90)
    ten_bit = make_video(tmp_path / "10bit.mp4", codec="libx264", pix_fmt="yuv420p10le")
    vp9 = make_video(tmp_path / "vp9.mp4", codec="libvpx-vp9")
    expected = {rotated: (64, 96), ten_bit: (64, 48), vp9: (64, 48)}
    for source, size in expected.items():
        asset_id, _ = add_asset(sql, media, owner, source, name=source.name, kind="VIDEO")
        result = await run_job(actor, id=asset_id)
        assert result.status == "success", result.error
        seen = streams_of(files.encoded_video_path(media, owner, asset_id))
        # upright (no display matrix left), 8-bit 4:2:0 h264
        assert (seen["codec"], seen["size"], seen["pix_fmt"], seen["rotation"]) == ("h264", size, "yuv420p", 0)


async def test_optimal_policy_scales_to_the_target_resolution(
    actor: TranscoderActor, pool: Pool, config_watch: ConfigWatch, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    await set_ffmpeg(pool, config_watch, transcode="optimal", targetResolution="32", targetVideoCodec="hevc")
    source = make_video(tmp_path / "big.mp4", width=96, height=64)
    asset_id, _ = add_asset(sql, media, owner, source, name="big.mp4", kind="VIDEO")
    result = await run_job(actor, id=asset_id)
    assert result.status == "success", result.error
    output = files.encoded_video_path(media, owner, asset_id)
    seen = streams_of(output)
    assert (seen["codec"], seen["size"]) == ("hevc", (48, 32))
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_tag == "hvc1"  # as Immich tags HEVC for Apple players


async def test_disabled_writes_nothing_and_a_policy_that_no_longer_transcodes_removes_the_file(
    actor: TranscoderActor, pool: Pool, config_watch: ConfigWatch, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "hevc.mp4", codec="libx265")
    asset_id, _ = add_asset(sql, media, owner, source, name="clip.mp4", kind="VIDEO")
    await set_ffmpeg(pool, config_watch, transcode="disabled")
    result = await run_job(actor, id=asset_id)
    assert (result.status, result.apply) == ("skipped", None)
    assert encoded_files(media) == []

    await set_ffmpeg(pool, config_watch, transcode="required")
    result = await run_job(actor, id=asset_id)
    await apply(pool, result)
    [(path,)] = encoded_row(sql, asset_id)
    assert encoded_files(media) == [files.encoded_video_path(media, owner, asset_id)]
    assert path == str(files.encoded_video_path(media, owner, asset_id))

    # HEVC accepted now: the encoded file is no longer required, its row goes and its file is queued for deletion
    await set_ffmpeg(pool, config_watch, transcode="required", acceptedVideoCodecs=["h264", "hevc"])
    result = await run_job(actor, id=asset_id)
    assert result.status == "skipped"
    await apply(pool, result)
    assert encoded_row(sql, asset_id) == []
    assert sql("SELECT name, data FROM immich_trio.job") == [("FileDelete", {"files": [path]})]


async def test_truncated_source_fails_with_the_reason_and_leaves_nothing(
    actor: TranscoderActor, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    whole = make_video(tmp_path / "whole.mp4", codec="libx265", frames=48).read_bytes()
    broken, _ = add_asset(sql, media, owner, whole[: len(whole) // 3], name="cut.mp4", kind="VIDEO")
    not_video, _ = add_asset(sql, media, owner, b"\xff\xd8\xff\xe0 not a video", name="fake.mp4", kind="VIDEO")

    for asset_id in (broken, not_video):
        result = await run_job(actor, id=asset_id)
        assert result.status == "failed" and result.error and not result.retry
    assert encoded_files(media) == []
    assert sql("SELECT count(*) FROM asset_file") == [(0,)]

    # the actor carries on
    good, _ = add_asset(sql, media, owner, make_video(tmp_path / "ok.mp4", codec="libx265"), name="ok.mp4", kind="VIDEO")
    assert (await run_job(actor, id=good)).status == "success"
    assert (await run_job(actor, id="00000000-0000-4000-8000-000000000000")).status == "failed"


async def test_no_dri_device_fails_as_immich_does(
    actor: TranscoderActor, pool: Pool, config_watch: ConfigWatch, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    asset_id, _ = add_asset(sql, media, owner, make_video(tmp_path / "h.mp4", codec="libx265"), name="h.mp4", kind="VIDEO")
    await set_ffmpeg(pool, config_watch, accel="vaapi")
    result = await run_job(actor, id=asset_id)
    assert (result.status, result.error) == (
        "failed", "No /dev/dri devices found. If using Docker, make sure at least one /dev/dri device is mounted",
    )
    await set_ffmpeg(pool, config_watch, accel="nvenc")  # no device needed: software after the failed try
    assert (await run_job(actor, id=asset_id)).status == "success"


async def test_queue_all_queues_visible_videos_without_an_encode_or_all_with_force(
    actor: TranscoderActor, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "c.mp4")
    plain, _ = add_asset(sql, media, owner, clip, name="a.mp4", kind="VIDEO")
    done, _ = add_asset(sql, media, owner, clip, name="b.mp4", kind="VIDEO")
    hidden, _ = add_asset(sql, media, owner, clip, name="c.mp4", kind="VIDEO", visibility="hidden")
    add_asset(sql, media, owner, b"jpeg", name="p.jpg")
    sql("INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'encoded_video', '/x.mp4')", (done,))

    def queued() -> list[str]:
        rows = sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'AssetEncodeVideo' ORDER BY id")
        sql("DELETE FROM immich_trio.job")
        return sorted(r[0] for r in rows)

    await apply(pool, await run_job(actor, "AssetEncodeVideoQueueAll", force=False))
    assert queued() == [plain]
    await apply(pool, await run_job(actor, "AssetEncodeVideoQueueAll", force=True))
    assert queued() == sorted([plain, done, hidden])


def test_a_crashed_encode_leaves_its_temp_file_to_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path / "encoded-video" / "u" / "ab" / "cd"
    folder.mkdir(parents=True)
    stale = folder / f".abcd.1234{TEMP_SUFFIX}"
    fresh = folder / f".abce.5678{TEMP_SUFFIX}"
    kept = folder / "abcd.mp4"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert sweep_stale_temps(tmp_path / "encoded-video", older_than=600) == [stale]
    assert sorted(p.name for p in folder.iterdir()) == sorted([fresh.name, kept.name])


def test_a_stopped_encode_removes_its_partial_output(tmp_path: Path) -> None:
    source = make_video(tmp_path / "s.mp4", frames=24)
    plan = encode_plan(FfmpegSettings(transcode="all"), Target.VIDEO, VideoStream(width=64, height=48, codec_name="h264"), None)
    stop = threading.Event()
    stop.set()
    output = tmp_path / "out.part"
    with pytest.raises(TranscodeStopped):
        run_plan(source, output, plan, rotation=0, stop=stop)
    assert not output.exists()


async def test_cancelling_the_encode_stops_the_thread_before_going_on() -> None:
    seen: list[str] = []

    def work(stop: threading.Event) -> None:
        seen.append("started")
        if stop.wait(LIMIT):
            seen.append("stopped")

    with trio.move_on_after(0.2) as scope:
        await run_stoppable(work, limiter=trio.CapacityLimiter(1))
    assert scope.cancelled_caught and seen == ["started", "stopped"]


async def test_thumbnails_of_an_uploaded_video_queue_its_encode_hidden_or_not(
    pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, nursery: trio.Nursery, config_watch: ConfigWatch
) -> None:
    thumbnailer = ThumbnailerActor(pool, media)
    await nursery.start(thumbnailer.run)
    clip = make_video(tmp_path / "v.mp4")
    visible, _ = add_asset(sql, media, owner, clip, name="v.mp4", kind="VIDEO")
    hidden, _ = add_asset(sql, media, owner, clip, name="h.mp4", kind="VIDEO", visibility="hidden")
    photo, _ = add_asset(sql, media, owner, make_jpeg(), name="p.jpg")
    for asset_id in (visible, hidden, photo):
        result = await run_thumbnail_job(thumbnailer, asset_id, source="upload")
        assert result.status == ("skipped" if asset_id == hidden else "success"), result.error
        await apply(pool, result)
    queued = sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'AssetEncodeVideo'")
    assert sorted(r[0] for r in queued) == sorted([visible, hidden])


async def test_codecs_are_named_as_ffprobe_names_them(
    actor: TranscoderActor, pool: Pool, config_watch: ConfigWatch, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    assert [codec_name(d) for d in ("mp3float", "libdav1d", "hevc", "libopus")] == ["mp3", "av1", "hevc", "opus"]
    await set_ffmpeg(pool, config_watch, acceptedVideoCodecs=["h264", "av1"])
    av1 = make_video(tmp_path / "av1.mp4", codec="libsvtav1")  # decoded by libdav1d, named av1
    asset_id, _ = add_asset(sql, media, owner, av1, name="av1.mp4", kind="VIDEO")
    assert (await run_job(actor, id=asset_id)).status == "skipped"
    assert encoded_files(media) == []


def mean_rgb(path: Path) -> tuple[Any, ...]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        pix_fmt = container.streams.video[0].codec_context.pix_fmt  # yuvj420p: 4:2:0 full range
        trc = int(frame.color_trc or 2)
        pixels = frame.to_ndarray(format="rgb24")
    return (pix_fmt, trc, *(round(float(c)) for c in pixels.reshape(-1, 3).mean(axis=0)))


async def test_hdr_is_tone_mapped_to_sdr_unless_disabled(
    actor: TranscoderActor, pool: Pool, config_watch: ConfigWatch, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # PQ code value 200/255 = 1347 nits; hable against Immich's peak of 100 (10000 nits):
    # hable(13.47)/hable(100) = 0.833 linear, 0.913 after the BT.709 curve: 233 of 255
    hdr = make_video(tmp_path / "hdr.mp4", codec="libx265", pix_fmt="yuv420p10le", pq_hdr=True, colour=lambda i: (200, 200, 200))
    mapped, _ = add_asset(sql, media, owner, hdr, name="hdr.mp4", kind="VIDEO")
    assert (await run_job(actor, id=mapped)).status == "success"
    pix_fmt, trc, *rgb = mean_rgb(files.encoded_video_path(media, owner, mapped))
    assert (pix_fmt, trc) == ("yuvj420p", 1) and all(abs(c - 233) <= 5 for c in rgb), rgb  # full-range BT.709 (r=pc), grey stays grey

    await set_ffmpeg(pool, config_watch, tonemap="disabled")
    plain, _ = add_asset(sql, media, owner, hdr, name="hdr2.mp4", kind="VIDEO")
    assert (await run_job(actor, id=plain)).status == "success"
    pix_fmt, _, *rgb = mean_rgb(files.encoded_video_path(media, owner, plain))
    assert pix_fmt == "yuv420p"
    assert all(abs(c - 200) <= 6 for c in rgb), rgb  # the PQ code values, only made 8-bit


async def test_a_shutdown_mid_encode_leaves_nothing_in_encoded_video(
    pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, config_watch: ConfigWatch
) -> None:
    source = make_video(tmp_path / "long.mp4", codec="libx265", width=320, height=240, frames=240)
    asset_id, _ = add_asset(sql, media, owner, source, name="long.mp4", kind="VIDEO")
    actor = TranscoderActor(pool, media)
    started: list[Path] = []
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            nursery.start_soon(partial(run_job, actor, id=asset_id))
            while not started:  # the encode has begun writing its temp file
                started = [p for p in encoded_files(media) if p.name.endswith(TEMP_SUFFIX)]
                await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
    assert started and encoded_files(media) == []


def keyframes(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.is_keyframe)


def test_encoder_options_reach_the_encoder(tmp_path: Path) -> None:
    source = make_video(tmp_path / "g.mp4", frames=24, gop=24)
    video = VideoStream(width=64, height=48, codec_name="h264")
    counts = {}
    for gop in (0, 6):
        plan = encode_plan(FfmpegSettings(transcode="all", gop_size=gop), Target.VIDEO, video, None)
        run_plan(source, tmp_path / f"gop{gop}.mp4", plan, rotation=0, stop=threading.Event())
        counts[gop] = keyframes(tmp_path / f"gop{gop}.mp4")
    assert counts == {0: 1, 6: 4}  # x264's default interval is longer than the clip


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [round(float(f.time), 3) for f in container.decode(video=0)]


def test_variable_frame_rate_timestamps_pass_through(tmp_path: Path) -> None:
    source = tmp_path / "vfr.mp4"
    times_ms = [0, 40, 80, 200, 240, 500, 540, 580, 1000, 1040]
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    video = VideoStream(width=64, height=48, codec_name="h264")
    plan = encode_plan(FfmpegSettings(transcode="all"), Target.VIDEO, video, None)
    run_plan(source, tmp_path / "out.mp4", plan, rotation=0, stop=threading.Event())
    assert frame_times(tmp_path / "out.mp4") == frame_times(source) == [ms / 1000 for ms in times_ms]
