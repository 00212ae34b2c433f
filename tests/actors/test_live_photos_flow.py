"""Live photos, end to end: a photo and its video with the same ContentIdentifier are linked
whichever arrives first, or through the upload's ``livePhotoVideoId``; the video is hidden,
leaves its albums, and goes when the photo is deleted."""

from __future__ import annotations

import trio
from asset_client import api, extracted, timeline_count, upload
from media_harness import LIMIT, POLL, Server, make_user, next_event, wait_for
from motion_samples import is_file, live_photo_still, mp4


async def test_live_photo_halves_link_in_either_order(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    other = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    with trio.fail_after(LIMIT):
        # Photo first, then its video.
        photo_a = await upload(server, user, live_photo_still("CID-A"), "IMG_0001.JPG")
        await extracted(server, photo_a)
        video_a = await upload(server, user, mp4(cid="CID-A"), "IMG_0001.MOV")
        assert await next_event(sub, "on_asset_hidden") == [video_a]
        # Video first (and put in an album), then its photo.
        video_b = await upload(server, user, mp4(cid="CID-B", colour=(10, 10, 200)), "IMG_0002.MOV")
        await extracted(server, video_b)
        album = await api(server, user, "POST", "/api/albums", {"albumName": "Trip", "assetIds": [video_b]})
        photo_b = await upload(server, user, live_photo_still("CID-B", (200, 200, 0)), "IMG_0002.JPG")
        assert await next_event(sub, "on_asset_hidden") == [video_b]
        # Same CID, another owner: never linked across users.
        stranger_video = await upload(server, other, mp4(cid="CID-A", colour=(9, 9, 9)), "IMG_0001.MOV")
        await extracted(server, photo_b, video_a, stranger_video)

    for photo, video in ((photo_a, video_a), (photo_b, video_b)):
        photo_dto = await api(server, user, "GET", f"/api/assets/{photo}")
        video_dto = await api(server, user, "GET", f"/api/assets/{video}")
        assert photo_dto["livePhotoVideoId"] == video
        assert photo_dto["type"] == "IMAGE" and video_dto["type"] == "VIDEO"
        assert video_dto["visibility"] == "hidden" and photo_dto["visibility"] == "timeline"
        assert video_dto["livePhotoVideoId"] is None
    # Only the photos are on the timeline; the video left its album.
    assert await timeline_count(server, user) == 2
    album_now = await api(server, user, "GET", f"/api/albums/{album['id']}")
    assert album_now["assetCount"] == 0
    stranger = await api(server, other, "GET", f"/api/assets/{stranger_video}")
    assert stranger["visibility"] == "timeline"

    # Deleting the photo for good takes its hidden video with it (row and file).
    [(video_path,)] = await server.asql('SELECT "originalPath" FROM asset WHERE id = %s', (video_a,))
    assert is_file(video_path)
    await api(server, user, "DELETE", "/api/assets", {"ids": [photo_a], "force": True})
    with trio.fail_after(LIMIT):
        await wait_for(server, "SELECT id FROM asset WHERE id = ANY(%s::uuid[])", ([photo_a, video_a],), [])
        for _ in range(int(LIMIT / POLL)):  # files go after the commit that removed the rows
            if not is_file(video_path):
                break
            await trio.sleep(POLL)
    assert not is_file(video_path)
    assert (await api(server, user, "GET", f"/api/assets/{photo_b}"))["livePhotoVideoId"] == video_b


async def test_upload_with_live_photo_video_id_hides_the_video_at_once(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    with trio.fail_after(LIMIT):
        video = await upload(server, user, mp4(), "clip.mov")
        await extracted(server, video)
        assert await timeline_count(server, user) == 1
        photo = await upload(server, user, live_photo_still("CID-UP"), "clip.jpg", livePhotoVideoId=video)
        assert await next_event(sub, "on_asset_hidden") == [video]
        await extracted(server, photo)
    assert (await api(server, user, "GET", f"/api/assets/{photo}"))["livePhotoVideoId"] == video
    assert (await api(server, user, "GET", f"/api/assets/{video}"))["visibility"] == "hidden"
    assert await timeline_count(server, user) == 1
