"""HLS streaming of a video (Immich v3.1, Alpha): ``getMainPlaylist`` opens a session,
``getMediaPlaylist`` lists a variant's segments, ``getSegment`` serves ``init.mp4`` and
``seg_N.m4s`` as the streamer produces them, ``endSession`` releases the session."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import trio
from quart import Response

from immich_trio import sysconfig
from immich_trio.actors.video_stream.messages import (
    PlaylistRequested,
    SegmentRequested,
    SegmentTicket,
    SessionEnded,
    SessionOpened,
)
from immich_trio.actors.video_stream.plan import (
    LEASE_SECONDS,
    PLAYLIST_CONTENT_TYPE,
    SEGMENT_CONTENT_TYPE,
    SEGMENT_WAIT_SECONDS,
    main_playlist,
    media_playlist,
    position_to_segment,
    segmentation,
    stream_info,
)
from immich_trio.http.access import check_access, require_access
from immich_trio.http.context import Ctx
from immich_trio.http.errors import BadRequest, NotFound, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.sql import video_stream as q

NOT_ENABLED = "Real-time transcoding is not enabled"
NOT_READY = "Asset metadata is not yet ready for streaming"
NO_VARIANTS = "No supported variants for this video"
NO_SESSION_STREAM = "Asset not found or metadata not yet ready for streaming"
POSITION_HEADER = "x-immich-hls-pos"
INIT_SEGMENT_HEADER = "x-immich-hls-msn"


def _playlist(text: str) -> Response:
    return Response(
        text.encode(),
        status=200,
        headers={"Cache-Control": "no-cache"},
        content_type=f"{PLAYLIST_CONTENT_TYPE}; charset=utf-8",
    )


def _header_number(ctx: Ctx, name: str, *, integer: bool) -> float | None:
    raw = ctx.request.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (integer and not value.is_integer()):
        kind = "integer" if integer else "number"
        raise ValidationFailed(
            [{"code": "invalid_type", "path": [name], "message": f"Invalid input: expected {kind}"}]
        )
    return value


@operation("getMainPlaylist")
async def get_main_playlist(ctx: Ctx) -> Response:
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.view", [asset_id])
        config = await sysconfig.load(conn, sysconfig.defaults_for(ctx.runtime.settings))
        realtime: dict[str, Any] = config["ffmpeg"]["realtime"]
        if not realtime["enabled"]:
            raise BadRequest(NOT_ENABLED)
        row = await q.stream_of_asset(conn, asset_id)
        if row is None:
            raise NotFound(NOT_READY)
        session_id = uuid4()
        text = main_playlist(
            str(session_id), stream_info(row), realtime["videoCodecs"], realtime["resolutions"]
        )
        if text is None:  # checked before the row is written, so a refusal leaves no session behind
            raise NotFound(NO_VARIANTS)
        expires_at = ctx.runtime.now() + timedelta(seconds=LEASE_SECONDS)
        await q.create_session(conn, session_id, asset_id, expires_at)
    if ctx.runtime.streamer is not None:
        await ctx.runtime.streamer.send(
            SessionOpened(
                session_id=str(session_id),
                asset_id=str(asset_id),
                owner_id=str(row["ownerId"]),
                expires_at=expires_at,
            )
        )
    return _playlist(text)


@operation("getMediaPlaylist")
async def get_media_playlist(ctx: Ctx) -> Response:
    asset_id = UUID(str(ctx.path["id"]))
    session_id = UUID(str(ctx.path["sessionId"]))
    variant_index = int(ctx.path["variantIndex"])
    position = _header_number(ctx, POSITION_HEADER, integer=False)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.view", [asset_id])
        row = await q.stream_of_session(conn, asset_id, session_id, ctx.runtime.now())
    if row is None:
        raise NotFound(NO_SESSION_STREAM)
    info = stream_info(row)
    seg = segmentation(info)
    hinted = None if position is None else position_to_segment(seg, position)
    if ctx.runtime.streamer is not None:
        await ctx.runtime.streamer.send(
            PlaylistRequested(
                session_id=str(session_id), variant_index=variant_index, hinted_segment=hinted
            )
        )
    return _playlist(media_playlist(info, seg))


@operation("getSegment")
async def get_segment(ctx: Ctx) -> Response:
    """A file endpoint: every failure is a bare 404 (behaviour.md §2)."""
    asset_id = UUID(str(ctx.path["id"]))
    session_id = str(UUID(str(ctx.path["sessionId"])))
    variant_index = int(ctx.path["variantIndex"])
    filename = str(ctx.path["filename"])
    hint = _header_number(ctx, INIT_SEGMENT_HEADER, integer=True)
    async with ctx.db() as conn:
        if await check_access(ctx, conn, "asset.view", [asset_id]) != {asset_id}:
            raise NotFound()
    streamer = ctx.runtime.streamer
    if streamer is None:
        raise NotFound()
    ticket: SegmentTicket = await streamer.ask(
        lambda reply: SegmentRequested(
            session_id=session_id,
            asset_id=str(asset_id),
            variant_index=variant_index,
            filename=filename,
            init_hint=None if hint is None else int(hint),
            reply=reply,
        )
    )
    if ticket.path is None:
        raise NotFound()
    if ticket.wait is not None:
        with trio.move_on_after(SEGMENT_WAIT_SECONDS):
            await ticket.wait.event.wait()
        if not ticket.wait.event.is_set() or ticket.wait.error is not None:
            raise NotFound()
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    file = FileToSend(path=str(ticket.path), content_type=SEGMENT_CONTENT_TYPE)
    return await send_file(headers, file, head=ctx.request.method == "HEAD")


@operation("endSession")
async def end_session(ctx: Ctx) -> None:
    asset_id = UUID(str(ctx.path["id"]))
    session_id = UUID(str(ctx.path["sessionId"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.view", [asset_id])
    if ctx.runtime.streamer is not None:
        await ctx.runtime.streamer.send(
            SessionEnded(session_id=str(session_id), asset_id=str(asset_id))
        )
