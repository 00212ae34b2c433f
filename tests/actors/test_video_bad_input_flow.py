"""Bad videos through the real jobs: the whole server tree in-process, uploads over HTTP, the
metadata and thumbnail jobs run by the dispatcher. Each bad file fails the job Immich's would
fail, with the reason; the asset keeps its row and original, nothing is half-written, and a
good video uploaded after them is processed."""

from __future__ import annotations

from pathlib import Path

import trio
from media_harness import LIMIT, Server, make_user, next_event, wait_for
from PIL import Image

from immich_trio.reactor import Backoff
from tests.actors.test_pipeline_flow import upload
from tests.actors.video_samples import make_audio_only, make_video

JOBS = 'SELECT name, status FROM immich_trio.job WHERE "assetId" = %s ORDER BY id'


def rows(server: Server, table: str, asset_id: str) -> int:
    [(count,)] = server.sql(f'SELECT count(*) FROM {table} WHERE "assetId" = %s', (asset_id,))
    return int(count)


def original_kept(path: str) -> bool:
    return Path(path).is_file()


def written_files(server: Server, asset_id: str) -> list[Path]:
    media = Path(server.media)
    return [p for folder in ("thumbs", "encoded-video") for p in (media / folder).rglob(f"*{asset_id}*")]


async def test_bad_videos_fail_their_job_with_the_reason_and_a_good_one_follows(
    server: Server, tmp_path: Path
) -> None:
    server.dispatcher.retry_backoff = Backoff(initial=0.1, factor=1.0, cap=0.1)
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    good = make_video(tmp_path / "good.mp4", frames=24, gop=6, audio=True)
    truncated = good.read_bytes()[: good.stat().st_size // 3]  # the index (moov) is at the end
    silent = make_audio_only(tmp_path / "voice.mp4").read_bytes()
    empty = make_video(tmp_path / "empty.mp4", frames=0).read_bytes()  # no track at all

    with trio.fail_after(LIMIT):
        truncated_id = await upload(server, user, truncated, "truncated.mp4")
        await wait_for(server, JOBS, (truncated_id,), [("AssetExtractMetadata", "failed")])
        silent_id = await upload(server, user, silent, "voice.mp4")
        await wait_for(server, JOBS, (silent_id,), [("AssetGenerateThumbnails", "failed")])
        empty_id = await upload(server, user, empty, "empty.mp4")
        await wait_for(server, JOBS, (empty_id,), [("AssetGenerateThumbnails", "failed")])
        good_id = await upload(server, user, good.read_bytes(), "good.mp4")
        while True:  # the bad ones were never announced; the good one is
            [dto] = await next_event(sub, "on_upload_success")
            if dto["id"] == good_id:
                break
            assert dto["id"] not in (truncated_id, silent_id, empty_id)
        await wait_for(server, JOBS, (good_id,), [])  # its follow-ups too (AssetEncodeVideo)

    # The truncated file: FFmpeg cannot open it, so the metadata job fails (as Immich's ffprobe).
    [(error,)] = server.sql('SELECT error FROM immich_trio.job WHERE "assetId" = %s', (truncated_id,))
    assert error.startswith("cannot open video") and "Invalid data" in error
    attempts = server.sql('SELECT attempts FROM immich_trio.job WHERE "assetId" = %s', (truncated_id,))
    assert attempts == [(1,)]  # a file that will not change is not tried again
    assert server.sql('SELECT "metadataExtractedAt" FROM asset_job_status WHERE "assetId" = %s',
                      (truncated_id,)) == []  # fmt: skip
    # Audio only: its metadata (the audio stream, the duration) is extracted; no frame to show.
    [(error,)] = server.sql('SELECT error FROM immich_trio.job WHERE "assetId" = %s', (silent_id,))
    assert "no video stream" in error
    assert server.sql('SELECT "codecName" FROM asset_audio WHERE "assetId" = %s', (silent_id,)) == [("aac",)]
    assert server.sql("SELECT duration FROM asset WHERE id = %s", (silent_id,)) == [(512,)]
    # Zero frames: the muxer kept no track, so there is nothing to probe and nothing to show.
    [(error,)] = server.sql('SELECT error FROM immich_trio.job WHERE "assetId" = %s', (empty_id,))
    assert "no video stream" in error

    for asset_id in (truncated_id, silent_id, empty_id):
        [(path, kind, thumbhash)] = server.sql(
            'SELECT "originalPath", type, thumbhash FROM asset WHERE id = %s', (asset_id,)
        )
        assert original_kept(path) and kind == "VIDEO" and thumbhash is None  # row and original stay
        assert rows(server, "asset_file", asset_id) == 0 and written_files(server, asset_id) == []
        assert rows(server, "asset_video", asset_id) == rows(server, "asset_keyframe", asset_id) == 0

    # The actors carried on: the good video has its streams, keyframes and thumbnails.
    assert server.sql('SELECT "codecName", "frameCount" FROM asset_video WHERE "assetId" = %s',
                      (good_id,)) == [("h264", 24)]  # fmt: skip
    [(pts,)] = server.sql('SELECT pts FROM asset_keyframe WHERE "assetId" = %s', (good_id,))
    assert len(pts) == 4
    assert rows(server, "asset_file", good_id) == 2 and dto["thumbhash"]
    assert server.sql("SELECT name FROM immich_trio.job WHERE \"assetId\" = %s", (good_id,)) == []


async def test_a_jpeg_named_mp4_is_a_one_frame_mjpeg_video_through_both_jobs(
    server: Server, tmp_path: Path
) -> None:
    # Immich's ffprobe reads a JPEG under a .mp4 name as one MJPEG frame in a jpeg_pipe; both
    # jobs succeed and the asset stays a video (it is neither rejected nor retyped).
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    source = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48), (30, 200, 60)).save(source, "JPEG")
    with trio.fail_after(LIMIT):
        asset_id = await upload(server, user, source.read_bytes(), "photo.mp4")
        [dto] = await next_event(sub, "on_upload_success")
    assert dto["id"] == asset_id and dto["type"] == "VIDEO" and (dto["width"], dto["height"]) == (64, 48)
    assert server.sql(
        'SELECT "codecName", "formatName", "frameCount", "timeBase" FROM asset_video WHERE "assetId" = %s',
        (asset_id,),
    ) == [("mjpeg", "jpeg_pipe", 0, 25)]
    assert server.sql('SELECT pts, "packetCount" FROM asset_keyframe WHERE "assetId" = %s', (asset_id,)) == [
        ([0], 1)
    ]
    assert rows(server, "asset_file", asset_id) == 2
