"""Albums tag, reading: the list (with its filters), one album, statistics, map markers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access, shared_link_grant
from immich_trio.http.context import Ctx
from immich_trio.http.dto import dumps
from immich_trio.http.dto.albums import album_dto, map_marker_dto, statistics_dto
from immich_trio.http.dto.generated import (
    AlbumResponseDto,
    AlbumStatisticsResponseDto,
    MapMarkerResponseDto,
)
from immich_trio.http.dto.users import AVATAR_COLORS
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql.albums import read as q
from immich_trio.sql.snapshot_cache import current_snapshot

ALBUM_NOT_FOUND = "Album not found"


async def load_album(conn: Any, me: UUID, album_id: UUID) -> dict[str, Any]:
    """Immich's findOrFail: the album as the caller sees it, or 400 ``Album not found``."""
    row = await q.album_by_id(conn, me, album_id)
    if row is None:
        raise BadRequest(ALBUM_NOT_FOUND)
    return row


@operation("getAllAlbums")
async def get_all_albums(ctx: Ctx) -> list[AlbumResponseDto] | bytes:
    me = ctx.user.id
    query = ctx.query
    if query.get("assetId") is not None:
        asset_id = UUID(query["assetId"])
        async with ctx.db() as conn, conn.transaction():
            # Immich's getByAssetId loads no shared links: hasSharedLink is false there.
            rows = await q.my_albums_with_asset(conn, me, asset_id)
            await q.fix_covers(conn, [r["id"] for r in rows])
            rows = await q.my_albums_with_asset(conn, me, asset_id) if rows else rows
        return [album_dto(r, has_shared_link=False) for r in rows]
    album_id = UUID(query["id"]) if query.get("id") else None
    key = ("getAllAlbums", me, query.get("isOwned"), query.get("isShared"), album_id, query.get("name"))
    async with ctx.db() as conn:
        # Nothing committed since the same question was answered: the same answer (covers
        # included: fixing them is a commit).
        seen = await current_snapshot(conn)
        cached = ctx.runtime.answers.get(key, seen)
        if cached is not None:
            return cached
        async with conn.transaction():
            fixed = await q.fix_my_covers(conn, me)
            # Built in PostgreSQL, in album_dto's shape (a test holds the two together).
            snapshot, body = await q.my_albums_json(
                conn, me, owned=query.get("isOwned"), shared=query.get("isShared"), album_id=album_id,
                name=query.get("name"), palette=AVATAR_COLORS,
            )
    if not fixed:  # our own uncommitted cover fix is not part of what ``snapshot`` names
        ctx.runtime.answers.put(key, snapshot, body)
    return body


@operation("getAlbumInfo")
async def get_album_info(ctx: Ctx) -> AlbumResponseDto | bytes:
    album_id = UUID(ctx.path["id"])
    link = shared_link_grant(ctx)
    key = ("getAlbumInfo", album_id, ctx.user.id, link.id if link is not None else None)
    async with ctx.db() as conn:
        await require_access(ctx, conn, "album.read", [album_id])
        seen = await current_snapshot(conn)
        cached = ctx.runtime.answers.get(key, seen)
        if cached is not None:
            return cached
        async with conn.transaction():
            fixed = await q.fix_covers(conn, [album_id])
            row = await q.album_info(conn, ctx.user.id, album_id)
    if row is None:
        raise BadRequest(ALBUM_NOT_FOUND)
    contributors = None
    if len(row["albumUsers"] or []) > 1 or row["hasSharedLink"]:
        contributors = [{**c, "userId": UUID(c["userId"])} for c in row["contributorCounts"]]
    body = dumps(album_dto(row, contributors=contributors))
    if not fixed:  # see get_all_albums
        ctx.runtime.answers.put(key, row["snapshot"], body)
    return body


@operation("getAlbumStatistics")
async def get_album_statistics(ctx: Ctx) -> AlbumStatisticsResponseDto:
    async with ctx.db() as conn:
        row = await q.statistics(conn, ctx.user.id)
    return statistics_dto(row)


@operation("getAlbumMapMarkers")
async def get_album_map_markers(ctx: Ctx) -> list[MapMarkerResponseDto]:
    album_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        await require_access(ctx, conn, "album.read", [album_id])
        link = shared_link_grant(ctx)
        if link is not None and not link.show_metadata:
            return []
        rows = await q.map_markers(conn, album_id)
    return [map_marker_dto(r) for r in rows]
