"""The Trash tag: empty the trash, restore all of it or some assets.

Emptying only marks the assets ``deleted`` and queues ``AssetEmptyTrash``; the janitor
(``actors/janitor.py``) removes rows and files and tells the owner asset by asset.
"""

from __future__ import annotations

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import BulkIdsDto, TrashResponseDto
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import trash as q

ACCESS = "asset.delete"
RESTORE_EVENT = "on_asset_restore"


@operation("emptyTrash")
async def empty_trash(ctx: Ctx) -> TrashResponseDto:
    async with ctx.db() as conn, conn.transaction():
        count = await q.empty(conn, ctx.user.id)
        if count:
            await jobs_q.enqueue_job(conn, JobName.ASSET_EMPTY_TRASH, {})
    return TrashResponseDto(count=count)


@operation("restoreTrash")
async def restore_trash(ctx: Ctx) -> TrashResponseDto:
    # Immich sends no event here: clients reload the trash and timeline themselves.
    async with ctx.db() as conn, conn.transaction():
        count = await q.restore_all(conn, ctx.user.id)
    return TrashResponseDto(count=count)


@operation("restoreAssets")
async def restore_assets(ctx: Ctx) -> TrashResponseDto:
    body = await ctx.body(BulkIdsDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, ACCESS, body.ids)
        if not body.ids:
            return TrashResponseDto(count=0)
        await q.restore(conn, body.ids)
        await events.publish_ids(conn, ctx.user.id, RESTORE_EVENT, body.ids)
    # Immich answers with the number of ids asked for, restored or not.
    return TrashResponseDto(count=len(body.ids))
