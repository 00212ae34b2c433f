"""Live photos and motion photos in the metadata job: the still's hidden motion part.

``prepare_motion_video`` runs before the job's transaction (exiftool, file reads, the file
write); ``apply_motion_video`` and ``link_live_photo`` run inside it, after ``asset_exif``
is written, in Immich's order (motion photo first, then the CID link).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import trio
from psycopg import AsyncConnection

from immich_trio.actors.metadata.exiftool import Exiftool, ExiftoolError
from immich_trio.actors.metadata.motion_photo import (
    MotionPhotoError,
    PlacedMotionVideo,
    place_motion_video,
    read_motion_video,
    sha1,
)
from immich_trio.actors.metadata.records import ExtractedMetadata
from immich_trio.jobs.names import JobName
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import live_photos as q
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]


async def prepare_motion_video(
    pool: Pool, exiftool: Exiftool, media: Path, asset: dict[str, Any]
) -> PlacedMotionVideo | None:
    """The still's embedded video, hashed and on disk; None when there is none or it cannot
    be read (logged: as in Immich, the still's own extraction still succeeds)."""
    path = str(asset["originalPath"])
    try:
        data = await read_motion_video(exiftool, path)
    except (MotionPhotoError, ExiftoolError, OSError, trio.TooSlowError) as exc:
        log.warning("metadata: no motion video from asset %s (%s): %s", asset["id"], path, exc)
        return None
    if data is None:
        return None
    checksum = await trio.to_thread.run_sync(sha1, data)
    async with pool.connection() as conn:
        state = await q.link_state(conn, asset["id"])
        existing = None if state is None else await q.by_checksum(conn, asset["ownerId"], checksum, state["libraryId"])
    stem = Path(str(asset["originalFileName"])).stem
    try:
        placed = await trio.to_thread.run_sync(
            partial(
                place_motion_video,
                media,
                file_name=f"{stem}.mp4",
                still_id=str(asset["id"]),
                owner_id=str(asset["ownerId"]),
                data=data,
                checksum=checksum,
                existing_path=existing["originalPath"] if existing else None,
            )
        )
    except OSError as exc:
        log.warning("metadata: cannot write the motion video of asset %s: %s", asset["id"], exc)
        return None
    return placed


async def apply_motion_video(
    conn: Conn, *, still_id: str, owner_id: str, placed: PlacedMotionVideo, extracted: ExtractedMetadata
) -> None:
    """Find or create the hidden VIDEO asset of the extracted video and link the still to it."""
    state = await q.link_state(conn, still_id)
    if state is None:
        return
    existing = await q.by_checksum(conn, owner_id, placed.checksum, state["libraryId"])
    created = rewritten = False
    if existing is None:
        created = await q.insert_motion_video(
            conn,
            asset_id=placed.new_id,
            owner_id=owner_id,
            library_id=state["libraryId"],
            original_path=str(placed.new_path),
            original_file_name=placed.file_name,
            checksum=placed.checksum,
            file_created_at=extracted.file_created_at,
            file_modified_at=extracted.file_modified_at,
            local_date_time=extracted.local_date_time,
        )
        if not created:
            # Another still with the same video committed it first: the insert waited for that
            # commit, so this new statement sees its asset.
            existing = await q.by_checksum(conn, owner_id, placed.checksum, state["libraryId"])
            if existing is None:
                raise RuntimeError("the motion video's checksum is taken, but by no visible asset")
    if existing is None:
        motion_id = placed.new_id
        if not state["isExternal"]:
            await q.add_usage(conn, owner_id, placed.size)
    else:
        motion_id = existing["id"]
        # Hidden to prepare the link, as Immich does with an unlinked upload of the same video.
        await q.hide(conn, motion_id, only_from_timeline=True)
        if placed.written is not None:
            rewritten = str(placed.written) == existing["originalPath"]
            if not rewritten:  # written for a new asset that another job created first
                await trio.to_thread.run_sync(files.remove_quietly, placed.written)

    previous = state["livePhotoVideoId"]
    if previous != motion_id:
        await q.set_live_photo_video(conn, still_id, motion_id)
        if previous is not None:
            # A different video than the one extracted now: Immich deletes the old one.
            await jobs_q.enqueue_job(conn, JobName.ASSET_DELETE, {"id": str(previous), "deleteOnDisk": True})
    if created or rewritten:
        # The video's own jobs, as Immich runs them after writing the file.
        await jobs_q.enqueue_job(conn, JobName.ASSET_EXTRACT_METADATA, {"id": str(motion_id)})
        await jobs_q.enqueue_job(conn, JobName.ASSET_ENCODE_VIDEO, {"id": str(motion_id)})


async def discard_motion_video(placed: PlacedMotionVideo) -> None:
    """The still went while its video was being extracted: drop the file written for a new asset."""
    if placed.written is not None and placed.written == placed.new_path:
        await trio.to_thread.run_sync(files.remove_quietly, placed.written)


async def link_live_photo(conn: Conn, *, asset_id: str, cid: str | None) -> None:
    """Link this asset with its other half (same owner and CID, the other type): the photo's
    ``livePhotoVideoId`` set, the video hidden and out of every album, ``on_asset_hidden``."""
    if not cid:
        return
    state = await q.link_state(conn, asset_id)
    if state is None:
        return
    await q.lock_cid(conn, state["ownerId"], cid)
    is_video = state["type"] == "VIDEO"
    match = await q.live_photo_match(
        conn,
        asset_id=asset_id,
        owner_id=state["ownerId"],
        other_type="IMAGE" if is_video else "VIDEO",
        cid=cid,
    )
    if match is None:
        return
    photo_id, video_id = (match, state["id"]) if is_video else (state["id"], match)
    await q.set_live_photo_video(conn, photo_id, video_id)
    await q.hide(conn, video_id)
    await q.remove_from_albums(conn, video_id)
    await events.publish_to_user(conn, state["ownerId"], "on_asset_hidden", str(video_id))
