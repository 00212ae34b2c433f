"""Transcoding in the whole server: an uploaded HEVC video is encoded after its thumbnails,
played back from the encoded file with Range, and re-queued through ``runAssetJobs`` with
``/api/jobs`` counting the job."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import trio
from media_harness import LIMIT, Server, make_user, wait_for
from test_pipeline_flow import upload
from video_samples import make_video

from immich_trio.storage import files

ENCODED = "SELECT path FROM asset_file WHERE \"assetId\" = %s AND type = 'encoded_video'"


async def test_uploaded_hevc_is_encoded_then_played_back_from_the_encoded_file(server: Server, tmp_path: Path) -> None:
    admin = await trio.to_thread.run_sync(lambda: make_user(server.db_url, "admin@example.com", is_admin=True))
    clip = make_video(tmp_path / "phone.mp4", codec="libx265", width=96, height=64, audio=True)

    with trio.fail_after(LIMIT):
        asset_id = await upload(server, admin, clip.read_bytes(), "phone.mp4")
        output = files.encoded_video_path(server.media.absolute(), admin.id, asset_id)
        await wait_for(server, ENCODED, (asset_id,), [(str(output),)])
        await wait_for(server, "SELECT count(*) FROM immich_trio.job", (), [(0,)])

    with av.open(str(output)) as container:
        video = container.streams.video[0].codec_context
        assert (video.name, video.width, video.height) == ("h264", 96, 64)
    encoded = output.read_bytes()
    async with httpx.AsyncClient(base_url=server.base, headers=admin.headers, timeout=30) as client:
        url = f"/api/assets/{asset_id}/video/playback"
        whole = await client.get(url)
        assert (whole.status_code, whole.content) == (200, encoded)
        part = await client.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 0-99/{len(encoded)}"
        assert part.content == encoded[:100]

        # runAssetJobs "transcode-video" queues it again; /api/jobs counts it while paused
        assert (await client.put("/api/jobs/videoConversion", json={"command": "pause"})).status_code == 200
        response = await client.post("/api/assets/jobs", json={"assetIds": [asset_id], "name": "transcode-video"})
        assert response.status_code == 204
        counts = (await client.get("/api/jobs")).json()["videoConversion"]
        assert counts["queueStatus"]["isPaused"] is True
        assert counts["jobCounts"]["waiting"] + counts["jobCounts"]["paused"] == 1
        before = output.stat().st_mtime_ns
        assert (await client.put("/api/jobs/videoConversion", json={"command": "resume"})).status_code == 200
        with trio.fail_after(LIMIT):
            await wait_for(server, "SELECT count(*) FROM immich_trio.job", (), [(0,)])
        assert output.stat().st_mtime_ns > before  # encoded anew, in place
        counts = (await client.get("/api/jobs")).json()["videoConversion"]["jobCounts"]
        assert counts["active"] == counts["waiting"] == counts["failed"] == 0

        # the queue's start command (AssetEncodeVideoQueueAll): with force, every video again
        before = output.stat().st_mtime_ns
        response = await client.put("/api/jobs/videoConversion", json={"command": "start", "force": True})
        assert response.status_code == 200
        with trio.fail_after(LIMIT):
            await wait_for(server, "SELECT count(*) FROM immich_trio.job", (), [(0,)])
        assert output.stat().st_mtime_ns > before
