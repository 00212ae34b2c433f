"""HLS streaming (``getMainPlaylist``, ``getMediaPlaylist``, ``getSegment``, ``endSession``):
the playlist texts as Immich writes them, segments produced on demand by the streamer and played
back end to end with PyAV, the errors Immich answers, and what a session leaves on disk."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
import trio

from immich_trio.actors.video_stream.streamer import HlsStreamer
from immich_trio.http.serve_file import PRIVATE_WITH_CACHE
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser, UserCreds
from tests.http.hls_media import (
    Sql,
    enable_realtime,
    insert_stream_rows,
    insert_video_asset,
    truncate_original,
)

H264_480 = 2  # index of (480, h264) in Immich's variant ladder
HARD_CAP = 60  # seconds: transcodes run in real threads


@pytest.fixture
async def streamer(runtime: Runtime, nursery: trio.Nursery) -> AsyncIterator[HlsStreamer]:
    actor = HlsStreamer(runtime.pool, runtime.settings.media_location)
    await nursery.start(actor.run)
    runtime.streamer = actor.address
    yield actor
    actor.request_stop()


@pytest.fixture
async def owner(make_user: MakeUser) -> UserCreds:
    return await make_user("owner@example.com")


def _video(sql: Sql, owner: UserCreds, runtime: Runtime, *, audio: bool = False) -> str:
    asset_id = insert_video_asset(sql, owner.id, runtime.settings.media_location, audio=audio)
    insert_stream_rows(sql, asset_id)
    return asset_id


async def _open(client: Any, asset_id: str, user: UserCreds) -> str:
    """Open a session; its id, read back from the playlist."""
    response = await client.get(f"/api/assets/{asset_id}/video/stream/main.m3u8", headers=user.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    text = await response.get_data(as_text=True)
    return text.splitlines()[4].split("/")[0]


async def test_main_playlist_lists_the_variants_immich_offers(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)
    response = await client.get(f"/api/assets/{asset_id}/video/stream/main.m3u8", headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    [(session_id, expires)] = sql('SELECT id, "expiresAt" FROM video_stream_session WHERE "assetId" = %s', (asset_id,))
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    # A 160x120 clip: the 480 rung only (never above max(short side, 480)), HEVC then H.264.
    assert await response.get_data(as_text=True) == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=1620000,RESOLUTION=640x480,CODECS="hvc1.1.6.L90.B0,mp4a.40.2",'
        "VIDEO-RANGE=SDR,FRAME-RATE=30.000\n"
        f"{session_id}/1/playlist.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=3375000,RESOLUTION=640x480,CODECS="avc1.64001e,mp4a.40.2",'
        "VIDEO-RANGE=SDR,FRAME-RATE=30.000\n"
        f"{session_id}/2/playlist.m3u8\n"
    )


async def test_main_playlist_refusals_leave_no_session(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, make_user: MakeUser
) -> None:
    asset_id = _video(sql, owner, runtime)
    url = f"/api/assets/{asset_id}/video/stream/main.m3u8"
    response = await client.get(url, headers=owner.headers)
    assert (response.status_code, await response.get_json()) == (400, {"message": "Real-time transcoding is not enabled"})
    enable_realtime(sql, resolutions=[720, 1080])
    response = await client.get(url, headers=owner.headers)
    assert (response.status_code, (await response.get_json())["message"]) == (404, "No supported variants for this video")
    enable_realtime(sql)
    bare = insert_video_asset(sql, owner.id, runtime.settings.media_location)
    response = await client.get(f"/api/assets/{bare}/video/stream/main.m3u8", headers=owner.headers)
    assert (response.status_code, (await response.get_json())["message"]) == (
        404, "Asset metadata is not yet ready for streaming",
    )  # fmt: skip
    other = await make_user("other@example.com")
    response = await client.get(url, headers=other.headers)
    assert (response.status_code, (await response.get_json())["message"]) == (400, "Not found or no asset.view access")
    assert sql("SELECT count(*) FROM video_stream_session") == [(0,)]


async def test_media_playlist_has_whole_frame_segments(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)  # 3 s at 30 fps: 60 frames, then 30
    session_id = await _open(client, asset_id, owner)
    url = f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}/playlist.m3u8"
    response = await client.get(url, headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl; charset=utf-8"
    assert await response.get_data(as_text=True) == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:2\n"
        '#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="init.mp4"\n'
        "#EXTINF:2.000000,\nseg_0.m4s\n#EXTINF:1.000000,\nseg_1.m4s\n#EXT-X-ENDLIST\n"
    )
    unknown = f"/api/assets/{asset_id}/video/stream/{asset_id}/{H264_480}/playlist.m3u8"
    response = await client.get(unknown, headers=owner.headers)
    assert (response.status_code, (await response.get_json())["message"]) == (
        404, "Asset not found or metadata not yet ready for streaming",
    )  # fmt: skip


def _decode(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


def _decode_audio(data: bytes) -> list[av.AudioFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(audio=0))


async def test_a_player_plays_the_whole_stream(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    """What hls.js does: main playlist, a media playlist, init.mp4, then every segment."""
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime, audio=True)
    session_id = await _open(client, asset_id, owner)
    base = f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}"
    playlist = await (await client.get(f"{base}/playlist.m3u8", headers=owner.headers)).get_data(as_text=True)
    names = ["init.mp4", *[line for line in playlist.splitlines() if line.startswith("seg_")]]
    assert names == ["init.mp4", "seg_0.m4s", "seg_1.m4s"]
    data = b""
    with trio.fail_after(HARD_CAP):
        for name in names:
            response = await client.get(f"{base}/{name}", headers=owner.headers)
            assert response.status_code == 200, name
            assert response.headers["Content-Type"] == "video/mp4"
            assert response.headers["Cache-Control"] == PRIVATE_WITH_CACHE
            data += await response.get_data()
    frames = _decode(data)
    assert len(frames) == 90
    assert (frames[0].width, frames[0].height) == (160, 120)
    assert [round(f.time * 30) for f in frames] == list(range(90))
    # The picture is the source's: frame i is grey 4 * i (within the encoder's loss).
    assert [int(frames[i].to_ndarray(format="gray").mean()) // 8 for i in (0, 45, 89)] == [0, 180 // 8, 356 % 256 // 8]
    # The sound too: AAC stereo at the source's rate, as long as the picture.
    sound = _decode_audio(data)
    assert {(f.format.name, f.layout.name, f.sample_rate) for f in sound} == {("fltp", "stereo", 44_100)}
    assert 2.95 < sum(f.samples for f in sound) / 44_100 < 3.1
    assert abs(sound[0].time) < 0.05
    folder = runtime.settings.media_location / "encoded-video" / owner.id / session_id[:2] / session_id[2:4]
    assert sorted(p.name for p in (folder / session_id / str(H264_480)).iterdir() if p.suffix != ".m3u8") == [
        "init.mp4", "seg_0.m4s", "seg_1.m4s",
    ]  # fmt: skip


async def test_a_seek_starts_the_transcode_at_the_segment_asked(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)
    session_id = await _open(client, asset_id, owner)
    base = f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}"
    with trio.fail_after(HARD_CAP):
        segment = await client.get(f"{base}/seg_1.m4s", headers=owner.headers)
        assert segment.status_code == 200
        init = await client.get(f"{base}/init.mp4", headers=owner.headers)
        assert init.status_code == 200
    frames = _decode(await init.get_data() + await segment.get_data())
    assert [round(f.time * 30) for f in frames] == list(range(60, 90))
    variant = Path(runtime.settings.media_location, "encoded-video", owner.id, session_id[:2], session_id[2:4],
                   session_id, str(H264_480))  # fmt: skip
    assert not (variant / "seg_0.m4s").exists()


async def test_switching_to_the_hevc_variant_restarts_the_transcode_there(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)
    session_id = await _open(client, asset_id, owner)
    base = f"/api/assets/{asset_id}/video/stream/{session_id}"
    with trio.fail_after(HARD_CAP):
        assert (await client.get(f"{base}/{H264_480}/seg_0.m4s", headers=owner.headers)).status_code == 200
        # The player switches level: hls.js fetches the other playlist, its init, the next segment.
        playlist = await client.get(f"{base}/1/playlist.m3u8", headers=owner.headers)
        assert playlist.status_code == 200
        segment = await client.get(f"{base}/1/seg_1.m4s", headers=owner.headers)
        init = await client.get(f"{base}/1/init.mp4", headers=owner.headers)
    assert (segment.status_code, init.status_code) == (200, 200)
    data = await init.get_data() + await segment.get_data()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_tag) == ("hevc", "hvc1")
    assert [round(f.time * 30) for f in _decode(data)] == list(range(60, 90))


async def test_a_portrait_phone_video_streams_upright(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    """Stored 160x120 with a 90° display rotation: the segments are 120x160, as FFmpeg's
    autorotate makes them for Immich."""
    enable_realtime(sql)
    asset_id = insert_video_asset(sql, owner.id, runtime.settings.media_location, seconds=1, portrait=True)
    insert_stream_rows(sql, asset_id)
    session_id = await _open(client, asset_id, owner)
    base = f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}"
    with trio.fail_after(HARD_CAP):
        segment = await client.get(f"{base}/seg_0.m4s", headers=owner.headers)
        init = await client.get(f"{base}/init.mp4", headers=owner.headers)
    frames = _decode(await init.get_data() + await segment.get_data())
    assert len(frames) == 30
    assert {(f.width, f.height, f.rotation) for f in frames} == {(120, 160, 0)}


async def test_a_broken_original_fails_its_session_not_the_streamer(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    broken = _video(sql, owner, runtime)
    truncate_original(sql, broken, 300)  # the header, no picture
    session_id = await _open(client, broken, owner)
    with trio.fail_after(HARD_CAP):
        response = await client.get(
            f"/api/assets/{broken}/video/stream/{session_id}/{H264_480}/seg_0.m4s", headers=owner.headers
        )
    assert (response.status_code, (await response.get_json())["message"]) == (404, "Not Found")
    # Immich ends a session whose transcode failed: no row, no folder, nothing half-written.
    assert sql("SELECT count(*) FROM video_stream_session WHERE id = %s", (session_id,)) == [(0,)]
    assert not (runtime.settings.media_location / "encoded-video" / owner.id / session_id[:2]
                / session_id[2:4] / session_id).exists()  # fmt: skip
    assert streamer.statistics().last_error is None  # the failure was the session's, not the actor's
    good = _video(sql, owner, runtime)
    session_id = await _open(client, good, owner)
    with trio.fail_after(HARD_CAP):
        response = await client.get(
            f"/api/assets/{good}/video/stream/{session_id}/{H264_480}/seg_0.m4s", headers=owner.headers
        )
    assert response.status_code == 200


async def test_segment_refusals_are_bare_404s(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer, make_user: MakeUser
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)
    session_id = await _open(client, asset_id, owner)
    other = await make_user("other@example.com")
    other_video = _video(sql, other, runtime)
    for url, user in (
        (f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}/seg_0.m4s", other),  # no access
        (f"/api/assets/{asset_id}/video/stream/{other_video}/{H264_480}/seg_0.m4s", owner),  # no session
        (f"/api/assets/{other_video}/video/stream/{session_id}/{H264_480}/seg_0.m4s", other),  # not its asset
    ):
        response = await client.get(url, headers=user.headers)
        assert (response.status_code, (await response.get_json())["message"]) == (404, "Not Found"), url
    assert not (runtime.settings.media_location / "encoded-video" / other.id).exists()


async def test_ending_a_session_removes_its_segments_and_row(
    client: Any, runtime: Runtime, sql: Sql, owner: UserCreds, streamer: HlsStreamer
) -> None:
    enable_realtime(sql)
    asset_id = _video(sql, owner, runtime)
    session_id = await _open(client, asset_id, owner)
    with trio.fail_after(HARD_CAP):
        response = await client.get(
            f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}/seg_0.m4s", headers=owner.headers
        )
    assert response.status_code == 200
    folder = runtime.settings.media_location / "encoded-video" / owner.id / session_id[:2] / session_id[2:4] / session_id
    assert folder.is_dir()
    response = await client.delete(f"/api/assets/{asset_id}/video/stream/{session_id}", headers=owner.headers)
    assert response.status_code == 204
    # The streamer takes messages in order: once it answers the next request, the end is done.
    response = await client.get(
        f"/api/assets/{asset_id}/video/stream/{session_id}/{H264_480}/seg_0.m4s", headers=owner.headers
    )
    assert response.status_code == 404
    assert sql("SELECT count(*) FROM video_stream_session") == [(0,)]
    assert not folder.exists()
    assert folder.parent.is_dir()  # only the session's own folder goes
