"""Tiny H.264 clips made with PyAV for the HLS tests, and the stream rows (``asset_exif``,
``asset_video``, ``asset_keyframe``) metadata extraction would store for them, measured from
the file itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np

Sql = Callable[..., list[tuple[Any, ...]]]


AUDIO_RATE = 44_100
AUDIO_FRAME = 1024


def make_clip(
    path: Path,
    *,
    seconds: int = 3,
    fps: int = 30,
    width: int = 160,
    height: int = 120,
    audio: bool = False,
    portrait: bool = False,
) -> None:
    """An H.264 MP4 with a keyframe every second; frame ``i`` is filled with grey ``4 * i % 256``
    so decoded frames can be told apart. With ``audio``, a mono AAC 440 Hz tone as long; with
    ``portrait``, the display matrix of a phone held upright (stored landscape, shown turned
    90° clockwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream: Any = out.add_stream(
            "libx264",
            rate=fps,
            options={"g": str(fps), "keyint_min": str(fps), "preset": "ultrafast"},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if portrait:
            stream.set_display_rotation(-90)
        sound: Any = out.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
        for i in range(seconds * fps):
            picture = np.full((height, width, 3), (4 * i) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if sound is not None:
            for start in range(0, seconds * AUDIO_RATE, AUDIO_FRAME):
                t = np.arange(start, start + AUDIO_FRAME) / AUDIO_RATE
                tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = AUDIO_RATE, start
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)


def insert_video_asset(
    sql: Sql,
    owner_id: str,
    media: Path,
    *,
    seconds: int = 3,
    fps: int = 30,
    audio: bool = False,
    portrait: bool = False,
) -> str:
    """A VIDEO asset of ``owner_id`` whose original is a fresh clip; no stream rows yet."""
    original = media / "upload" / owner_id / f"{os.urandom(6).hex()}.mp4"
    make_clip(original, seconds=seconds, fps=fps, audio=audio, portrait=portrait)
    when = datetime(2024, 1, 15, tzinfo=UTC)
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName")'
        " VALUES (%s, 'VIDEO', %s, %s, %s, %s, %s, 'sha1', 'clip.mp4') RETURNING id",
        (owner_id, str(original), when, when, when, os.urandom(20)),
    )
    return str(asset_id)


def insert_stream_rows(sql: Sql, asset_id: str) -> dict[str, int]:
    """The rows Immich's metadata extraction writes for a video, measured with PyAV (left as
    they are where extraction already wrote them)."""
    [(original,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    with av.open(original) as container:
        video = container.streams.video[0]
        assert video.time_base is not None and video.time_base.numerator == 1
        time_base = video.time_base.denominator
        packets = [p for p in container.demux(video) if p.size > 0]
        width, height = video.codec_context.width, video.codec_context.height
        codec, pix_fmt = video.codec_context.name, str(video.codec_context.pix_fmt)
        format_name, format_long = container.format.name, container.format.long_name
    durations = [int(p.duration or 0) for p in packets]
    keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
    pts = [int(packets[i].pts or 0) for i in keyframes]
    acc = [sum(durations[:i]) for i in keyframes]
    own = [
        sum(durations[k : (keyframes[n + 1] if n + 1 < len(keyframes) else len(packets))])
        for n, k in enumerate(keyframes)
    ]
    total = sum(durations)
    sql(
        'INSERT INTO asset_exif ("assetId", "exifImageWidth", "exifImageHeight", fps)'
        " VALUES (%s, %s, %s, %s)"
        ' ON CONFLICT ("assetId") DO UPDATE SET "exifImageWidth" = EXCLUDED."exifImageWidth",'
        ' "exifImageHeight" = EXCLUDED."exifImageHeight", fps = EXCLUDED.fps',
        (asset_id, width, height, len(packets) * time_base / total),
    )
    sql(
        'INSERT INTO asset_video ("assetId", bitrate, "frameCount", "timeBase", index, profile, level,'
        ' "colorPrimaries", "colorTransfer", "colorMatrix", "codecName", "formatName", "formatLongName",'
        ' "pixelFormat") VALUES (%s, 100000, %s, %s, 0, 100, 30, 1, 1, 1, %s, %s, %s, %s)'
        ' ON CONFLICT ("assetId") DO NOTHING',
        (asset_id, len(packets), time_base, codec, format_name, format_long, pix_fmt),
    )
    sql(
        'INSERT INTO asset_keyframe ("assetId", pts, "accDuration", "ownDuration", "totalDuration",'
        ' "packetCount", "outputFrames") VALUES (%s, %s, %s, %s, %s, %s, %s)'
        ' ON CONFLICT ("assetId") DO NOTHING',
        (asset_id, pts, acc, own, total, len(packets), len(packets)),
    )
    return {"width": width, "height": height, "frames": len(packets), "time_base": time_base}


def truncate_original(sql: Sql, asset_id: str, keep: int) -> None:
    """Cut the asset's original after ``keep`` bytes (a copy interrupted mid-file)."""
    [(original,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    path = Path(original)
    path.write_bytes(path.read_bytes()[:keep])


def enable_realtime(sql: Sql, **realtime: Any) -> None:
    """Turn on ``ffmpeg.realtime`` (HLS) in the stored system config."""
    import json

    value = {"ffmpeg": {"realtime": {"enabled": True, **realtime}}}
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(value),),
    )
