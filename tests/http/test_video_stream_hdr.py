"""HLS of an HDR (PQ) phone video: the segments are tone-mapped to SDR with the ``ffmpeg.tonemap``
curve, as the transcoder does and as Immich's live transcode asks FFmpeg to (``tonemapx``)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from typing import Any

import av
import trio

from immich_trio.runtime import Runtime
from tests.actors.video_samples import make_video
from tests.http.conftest import UserCreds
from tests.http.hls_media import Sql, enable_realtime, insert_stream_rows
from tests.http.test_video_stream import H264_480, HARD_CAP, _open, owner, streamer  # noqa: F401

WARM_HIGHLIGHT = (215, 200, 185)  # PQ code values: a ~2000-nit warm highlight


def _hdr_asset(sql: Sql, owner_id: str, runtime: Runtime) -> str:
    original = runtime.settings.media_location / "upload" / owner_id / f"{os.urandom(6).hex()}.mp4"
    original.parent.mkdir(parents=True, exist_ok=True)
    make_video(
        original, codec="libx265", pix_fmt="yuv420p10le", pq_hdr=True, width=96, height=64, fps=12,
        frames=24, gop=12, colour=lambda i: WARM_HIGHLIGHT,
    )  # fmt: skip
    when = datetime(2024, 1, 15, tzinfo=UTC)
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName")'
        " VALUES (%s, 'VIDEO', %s, %s, %s, %s, %s, 'sha1', 'hdr.mp4') RETURNING id",
        (owner_id, str(original), when, when, when, os.urandom(20)),
    )
    insert_stream_rows(sql, str(asset_id))
    return str(asset_id)


async def _first_frame_rgb(client: Any, asset_id: str, user: UserCreds) -> tuple[int, ...]:
    session_id = await _open(client, asset_id, user)
    base = f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}"
    data = b""
    with trio.fail_after(HARD_CAP):
        for name in ("init.mp4", "seg_0.m4s"):
            response = await client.get(f"{base}/{name}", headers=user.headers)
            assert response.status_code == 200, name
            data += await response.get_data()
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
    pixels = frame.to_ndarray(format="rgb24")
    return tuple(int(v) for v in pixels[pixels.shape[0] // 2, pixels.shape[1] // 2])


async def test_an_hdr_video_streams_tone_mapped(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: Any  # noqa: F811
) -> None:
    enable_realtime(sql)
    asset_id = _hdr_asset(sql, owner.id, runtime)
    red, green, blue = await _first_frame_rgb(client, asset_id, owner)
    # Compressed, not clipped to white, and its warm hue kept; streamed as raw code values it
    # would be a washed-out (215, 200, 185).
    assert red > blue + 60 and min(red, green, blue) < 220, (red, green, blue)


async def test_tone_mapping_disabled_streams_the_code_values(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: Any  # noqa: F811
) -> None:
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        ('{"ffmpeg": {"tonemap": "disabled", "realtime": {"enabled": true}}}',),
    )
    asset_id = _hdr_asset(sql, owner.id, runtime)
    red, green, blue = await _first_frame_rgb(client, asset_id, owner)
    assert abs(red - WARM_HIGHLIGHT[0]) < 25 and abs(blue - WARM_HIGHLIGHT[2]) < 25, (red, green, blue)
