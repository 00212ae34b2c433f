"""Motion photos, end to end: the video embedded in a Google or Samsung still becomes a hidden
VIDEO asset at ``encoded-video/<owner>/xx/yy/<id>-MP.mp4``, linked from the still, found again
by its SHA-1; a still whose tags point at no video keeps its row and gets none."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import trio
from asset_client import api, extracted, timeline_count, upload
from media_harness import LIMIT, Server, User, make_user
from motion_samples import (
    absolute,
    decoded_frames,
    file_size,
    glob,
    micro_video,
    motion_photo,
    mp4,
    read_file,
    remove,
    samsung_trailer,
)

SAMSUNG_HEIC = "formats/motionphoto/samsung-one-ui-6.heic"  # under the test_assets fixture
SAMSUNG_HEIC_VIDEO_SIZE = 3226469  # exiftool -b -MotionPhotoVideo | wc -c


async def motion_part(server: Server, still: str) -> dict[str, Any]:
    """The still's linked video: its row, as the database holds it."""
    rows = await server.asql(
        'SELECT v.id::text, v.type, v.visibility, v."originalPath", v."originalFileName", v.checksum,'
        ' v."ownerId"::text FROM asset s JOIN asset v ON v.id = s."livePhotoVideoId" WHERE s.id = %s',
        (still,),
    )
    assert len(rows) == 1, f"{still} has no motion part"
    keys = ("id", "type", "visibility", "path", "name", "checksum", "ownerId")
    return dict(zip(keys, rows[0], strict=True))


def motion_files(server: Server) -> list[Path]:
    return glob(server.media, "encoded-video/**/*-MP.mp4")


async def usage(server: Server, user: User) -> int:
    [(used,)] = await server.asql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,))
    return int(used)


async def test_google_and_samsung_motion_photos_get_their_video(server: Server, test_assets: Path) -> None:
    samsung_heic = test_assets / SAMSUNG_HEIC
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    micro_clip, container_clip, trailer_clip = mp4(colour=(200, 0, 0)), mp4(colour=(0, 200, 0)), mp4(colour=(0, 0, 200))
    stills = {
        "PXL_micro.jpg": micro_video(micro_clip),
        "PXL_container.MP.jpg": motion_photo(container_clip, padding=16),
        "SM_trailer.jpg": samsung_trailer(trailer_clip),
    }
    clips = {"PXL_micro.jpg": micro_clip, "PXL_container.MP.jpg": container_clip, "SM_trailer.jpg": trailer_clip}
    with trio.fail_after(LIMIT):
        ids = {name: await upload(server, user, data, name) for name, data in stills.items()}
        heic = await upload(server, user, read_file(samsung_heic), "samsung.heic")
        await extracted(server, *ids.values(), heic)

    media = absolute(server.media)
    for name, still in ids.items():
        part = await motion_part(server, still)
        # The hidden VIDEO asset, named after the still, at Immich's -MP.mp4 path...
        assert part["type"] == "VIDEO" and part["visibility"] == "hidden"
        assert part["name"] == name.rsplit(".", 1)[0] + ".mp4"
        assert part["ownerId"] == user.id
        assert part["path"] == str(
            media / "encoded-video" / user.id / part["id"][:2] / part["id"][2:4] / f"{part['id']}-MP.mp4"
        )
        # ...holding exactly the embedded MP4, which decodes.
        assert read_file(part["path"]) == clips[name]
        assert bytes(part["checksum"]) == hashlib.sha1(clips[name]).digest()
        assert decoded_frames(Path(part["path"])) == 12
        # The still keeps its own original, untouched.
        [(original,)] = await server.asql('SELECT "originalPath" FROM asset WHERE id = %s', (still,))
        assert read_file(original) == stills[name]
        dto = await api(server, user, "GET", f"/api/assets/{still}")
        assert dto["livePhotoVideoId"] == part["id"] and dto["type"] == "IMAGE"

    # The HEIC's MotionPhotoVideo tag, as a Samsung One UI 6 phone writes it.
    heic_part = await motion_part(server, heic)
    assert heic_part["name"] == "samsung.mp4"
    assert file_size(heic_part["path"]) == SAMSUNG_HEIC_VIDEO_SIZE
    assert decoded_frames(Path(heic_part["path"])) > 0

    # Four stills on the timeline, their videos hidden; each video counts in the usage.
    assert await timeline_count(server, user) == 4
    uploaded = sum(len(d) for d in stills.values()) + file_size(samsung_heic)
    extracted_bytes = sum(len(c) for c in clips.values()) + SAMSUNG_HEIC_VIDEO_SIZE
    assert await usage(server, user) == uploaded + extracted_bytes
    # The videos' own metadata extraction ran (duration from the file).
    parts = [(await motion_part(server, s))["id"] for s in [*ids.values(), heic]]
    with trio.fail_after(LIMIT):
        await extracted(server, *parts)
    [(duration,)] = await server.asql(
        "SELECT duration FROM asset WHERE id = %s", ((await motion_part(server, ids["PXL_micro.jpg"]))["id"],)
    )
    assert duration == 1000  # 12 frames at 12 fps
    assert len(motion_files(server)) == 4


async def test_same_video_is_found_again_by_checksum(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    clip = mp4(colour=(120, 30, 200))
    with trio.fail_after(LIMIT):
        # The plain video was uploaded first: it is hidden and linked, not copied.
        video = await upload(server, user, clip, "VID_1.mp4")
        await extracted(server, video)
        first = await upload(server, user, micro_video(clip, colour=(1, 2, 3)), "PXL_1.jpg")
        await extracted(server, first)
        # Another still with the same embedded video shares it.
        second = await upload(server, user, motion_photo(clip, colour=(200, 2, 3)), "PXL_2.jpg")
        await extracted(server, second)
    assert (await motion_part(server, first))["id"] == video
    assert (await motion_part(server, second))["id"] == video
    assert (await api(server, user, "GET", f"/api/assets/{video}"))["visibility"] == "hidden"
    assert motion_files(server) == []
    assert await timeline_count(server, user) == 2

    # Running the extraction again changes nothing: same link, no second asset or file.
    third = await upload(server, user, samsung_trailer(mp4(colour=(5, 99, 5))), "SM_1.jpg")
    with trio.fail_after(LIMIT):
        await extracted(server, third)
    before = await motion_part(server, third)
    used = await usage(server, user)
    await server.asql('UPDATE asset_job_status SET "metadataExtractedAt" = NULL WHERE "assetId" = %s', (third,))
    await api(server, user, "POST", "/api/assets/jobs", {"assetIds": [third], "name": "refresh-metadata"})
    with trio.fail_after(LIMIT):
        await extracted(server, third)
    assert await motion_part(server, third) == before
    assert len(motion_files(server)) == 1 and await usage(server, user) == used
    [(count,)] = await server.asql('SELECT count(*) FROM asset WHERE "ownerId" = %s', (user.id,))
    assert count == 5

    # The file of the motion part was deleted from disk: the next run writes it again.
    remove(before["path"])
    await server.asql('UPDATE asset_job_status SET "metadataExtractedAt" = NULL WHERE "assetId" = %s', (third,))
    await api(server, user, "POST", "/api/assets/jobs", {"assetIds": [third], "name": "refresh-metadata"})
    with trio.fail_after(LIMIT):
        await extracted(server, third)
    assert decoded_frames(Path(before["path"])) == 12


async def test_motion_photo_pointing_at_no_video_keeps_the_still(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    clip = mp4()
    bad = {
        # The offset reaches past the start of the file.
        "past_end.jpg": micro_video(clip, offset=10 * len(clip)),
        # The offset lands inside the JPEG: bytes that are no MP4.
        "garbage.jpg": micro_video(b"\x00garbage-not-a-video" * 20, offset=300),
        # A container directory with a MotionPhoto item of length 0.
        "empty.jpg": motion_photo(b""),
    }
    with trio.fail_after(LIMIT):
        ids = {name: await upload(server, user, data, name) for name, data in bad.items()}
        # The actor carries on: a good one after them still gets its video.
        good = await upload(server, user, micro_video(mp4(colour=(1, 1, 250))), "good.jpg")
        await extracted(server, *ids.values(), good)
    for name, still in ids.items():
        dto = await api(server, user, "GET", f"/api/assets/{still}")
        assert dto["livePhotoVideoId"] is None, name
        [(original,)] = await server.asql('SELECT "originalPath" FROM asset WHERE id = %s', (still,))
        assert read_file(original) == bad[name]
    assert (await motion_part(server, good))["type"] == "VIDEO"
    # Nothing half-written: one file, one video row, and no failed job.
    assert len(motion_files(server)) == 1
    assert glob(server.media, "encoded-video/**/.*.part") == []
    [(videos,)] = await server.asql('SELECT count(*) FROM asset WHERE type = %s', ("VIDEO",))
    assert videos == 1
    failed = await server.asql("SELECT name FROM immich_trio.job WHERE status = 'failed'")
    assert failed == []
