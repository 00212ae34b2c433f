"""Albums tag, assets: add to one album, remove from one album, add to many albums.

Per-id answers follow Immich's addAssets/removeAssets (``utils/asset.util.ts``): adding an id
already in the album (or twice in one request) is ``duplicate``, an asset the caller may not
share is ``no_permission``; removing an id not in the album (or twice) is ``not_found``, and
only the album owner removes others' assets. Whatever the list's length, each step is one
statement. Members hear ``on_album_update`` when something changed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from immich_trio.http import bulk_ids
from immich_trio.http.access import check_access, require_access
from immich_trio.http.albums.read import load_album
from immich_trio.http.context import Ctx
from immich_trio.http.dto.albums import member_ids
from immich_trio.http.dto.generated import (
    AlbumsAddAssetsDto,
    AlbumsAddAssetsResponseDto,
    BulkIdResponseDto,
    BulkIdsDto,
)
from immich_trio.http.registry import operation
from immich_trio.sql import album_notices as notices
from immich_trio.sql import events
from immich_trio.sql.albums import read as q
from immich_trio.sql.albums import write as w

ALBUM_UPDATE = "on_album_update"


async def _announce(conn: Any, album_id: UUID, user_ids: list[UUID]) -> None:
    for user_id in user_ids:
        await events.publish_to_user(conn, user_id, ALBUM_UPDATE, str(album_id))


@operation("addAssetsToAlbum")
async def add_assets_to_album(ctx: Ctx) -> list[BulkIdResponseDto]:
    album_id = UUID(ctx.path["id"])
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        album = await load_album(conn, ctx.user.id, album_id)
        await require_access(ctx, conn, "albumAsset.create", [album_id])
        present = await w.present_assets(conn, album_id, ids)
        allowed = await check_access(ctx, conn, "asset.share", [i for i in ids if i not in present])
        outcomes, added = bulk_ids.additions(ids, present, allowed)
        results = bulk_ids.responses(outcomes)
        if added:
            await w.add_assets(conn, album_id, added)
            await w.touch(conn, {album_id: added[0]})
            await _announce(conn, album_id, member_ids(album))
            others = [m for m in member_ids(album) if m != ctx.user.id]
            await notices.enqueue_update(conn, album_id, others, ctx.runtime.now())
    return results


@operation("removeAssetFromAlbum")
async def remove_asset_from_album(ctx: Ctx) -> list[BulkIdResponseDto]:
    album_id = UUID(ctx.path["id"])
    ids = (await ctx.body(BulkIdsDto)).ids
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "albumAsset.delete", [album_id])
        album = await load_album(conn, ctx.user.id, album_id)
        present = await w.present_assets(conn, album_id, ids)
        allowed = await bulk_ids.removable(ctx, conn, "album.delete", album_id, present)
        outcomes, removed = bulk_ids.removals(ids, present, allowed)
        results = bulk_ids.responses(outcomes)
        if removed:
            await w.remove_assets(conn, album_id, removed)
            if album["albumThumbnailAssetId"] in removed:
                await q.fix_covers(conn, [album_id])
            await _announce(conn, album_id, member_ids(album))
            others = [m for m in member_ids(album) if m != ctx.user.id]
            await notices.enqueue_update(conn, album_id, others, ctx.runtime.now())
    return results


@operation("addAssetsToAlbums")
async def add_assets_to_albums(ctx: Ctx) -> AlbumsAddAssetsResponseDto:
    dto = await ctx.body(AlbumsAddAssetsDto)
    album_ids = list(dict.fromkeys(dto.album_ids))
    asset_ids = list(dict.fromkeys(dto.asset_ids))
    async with ctx.db() as conn, conn.transaction():
        albums = await check_access(ctx, conn, "albumAsset.create", album_ids)
        if not albums:
            return AlbumsAddAssetsResponseDto(success=False, error="no_permission")
        allowed = await check_access(ctx, conn, "asset.share", asset_ids)
        if not allowed:
            return AlbumsAddAssetsResponseDto(success=False, error="no_permission")
        assets = [a for a in asset_ids if a in allowed]
        ordered = [a for a in album_ids if a in albums]
        present = await w.present_pairs(conn, ordered, assets)
        pairs: list[tuple[UUID, UUID]] = []
        covers: dict[UUID, UUID] = {}
        for album_id in ordered:
            new = [a for a in assets if (album_id, a) not in present]
            if new:
                covers[album_id] = new[0]
                pairs.extend((album_id, a) for a in new)
        if not pairs:
            return AlbumsAddAssetsResponseDto(success=False, error="duplicate")
        await w.add_pairs(conn, pairs)
        await w.touch(conn, covers)
        members = await w.members(conn, list(covers))
        for album_id in covers:
            await _announce(conn, album_id, list(members.get(album_id, {})))
            others = [m for m in members.get(album_id, {}) if m != ctx.user.id]
            await notices.enqueue_update(conn, album_id, others, ctx.runtime.now())
    return AlbumsAddAssetsResponseDto(success=True)
