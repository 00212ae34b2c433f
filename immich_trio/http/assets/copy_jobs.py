"""``copyAsset`` (what one asset passes on to another, e.g. an edited copy replacing its
original) and ``runAssetJobs`` (re-running a pipeline step on chosen assets).

Jobs without a handler in this server yet (face detection) are not
queued: Immich skips them when the feature is off, and a queued job must never wait forever.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import value_or
from immich_trio.http.dto.generated import AssetCopyDto, AssetJobsDto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql.assets import copy as q
from immich_trio.storage import files

ASSET_JOBS: dict[str, JobName | None] = {
    "refresh-metadata": JobName.ASSET_EXTRACT_METADATA,
    "regenerate-thumbnail": JobName.ASSET_GENERATE_THUMBNAILS,
    "refresh-faces": None,  # AssetDetectFaces: no face detection yet
    "transcode-video": JobName.ASSET_ENCODE_VIDEO,
}
"""AssetJobName → the job it queues per asset (None: not queued, see the module doc)."""


async def _copy_sidecar(conn: Any, source: dict[str, Any], target: dict[str, Any]) -> Path | None:
    """Copy the source's sidecar beside the target's original; returns the target's previous
    sidecar when it lived elsewhere (removed after commit), else None."""
    source_path = source["sidecarPath"]
    if not source_path:
        return None
    destination = Path(f"{target['originalPath']}.xmp")
    try:
        await trio.to_thread.run_sync(files.copy_atomic, Path(source_path), destination)
    except OSError as exc:
        raise BadRequest(f"Cannot copy sidecar: {exc.strerror or exc}") from exc
    await q.upsert_sidecar(conn, target["id"], str(destination))
    await jobs_q.enqueue_job(conn, JobName.ASSET_EXTRACT_METADATA, {"id": str(target["id"])})
    previous = target["sidecarPath"]
    return Path(previous) if previous and Path(previous) != destination else None


@operation("copyAsset")
async def copy_asset(ctx: Ctx) -> None:
    dto = await ctx.body(AssetCopyDto)
    source_id, target_id = dto.source_id, dto.target_id
    stale: Path | None = None
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.copy", [source_id, target_id])
        source = await q.asset_for_copy(conn, source_id)
        target = await q.asset_for_copy(conn, target_id)
        if source is None or target is None:
            raise BadRequest("Both assets must exist")
        if source_id == target_id:
            raise BadRequest("Source and target id must be distinct")
        if value_or(dto.albums, True):
            await q.copy_albums(conn, source_id, target_id)
        if value_or(dto.shared_links, True):
            await q.copy_shared_links(conn, source_id, target_id)
        if value_or(dto.stack, True) and source["stackId"] is not None:
            if target["stackId"] is not None:
                if target["stackId"] != source["stackId"]:
                    await q.merge_stacks(conn, source["stackId"], target["stackId"])
            else:
                await q.join_stack(conn, target_id, source["stackId"])
        if value_or(dto.favorite, True):
            await q.set_favorite(conn, target_id, source["isFavorite"])
        if value_or(dto.sidecar, True):
            stale = await _copy_sidecar(conn, source, target)
    if stale is not None:
        await trio.to_thread.run_sync(files.remove_quietly, stale)


@operation("runAssetJobs")
async def run_asset_jobs(ctx: Ctx) -> None:
    dto = await ctx.body(AssetJobsDto)
    job = ASSET_JOBS[str(dto.name)]
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "asset.update", dto.asset_ids)
        if job is None:
            return
        for asset_id in dict.fromkeys(dto.asset_ids):
            await jobs_q.enqueue_job(conn, job, {"id": str(asset_id)})
