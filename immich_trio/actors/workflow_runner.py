"""The workflow runner: runs a user's workflow on the asset that triggered it.

Immich's ``WorkflowAssetTrigger`` job (queue ``workflow``), data ``{workflowId, assetId,
trigger}``, queued by ``sql/workflows.queue_asset_trigger`` when an asset is uploaded
(``AssetCreate``) or its metadata extracted (``AssetMetadataExtraction``, not after a sidecar
write). As Immich runs it: the workflow's enabled steps in order, each a core-plugin method
(``plugins/core.py``, native instead of WebAssembly) given the step's config and the
``AssetV1`` data; a filter that says no stops the workflow; an action's asset changes are
written as the owner (elevated, so ``locked`` is allowed) and the data read again for the
next step; ``assetAddToAlbums`` adds the asset to the owner's albums (finding or creating
the album named in the config when no id is given, and keeping the new id in the step's
config, as Immich's plugin does). A workflow gone or disabled by then does nothing.

The whole run is the job's ``apply``: it commits with the job's deletion, so a workflow runs
at most once per job and never half-way. A step whose method this server does not implement,
or whose config cannot run (a bad regular expression), fails the job for good.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.plugins.core import METHODS, AlbumRequest, run_method
from immich_trio.plugins.manifest import WORKFLOW_TYPES
from immich_trio.sql import events
from immich_trio.sql import workflows as q
from immich_trio.sql.access.rules import Principal, allowed_ids
from immich_trio.sql.albums import write as albums_w
from immich_trio.sql.assets import edits as assets_w
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "workflow-runner"
JOBS: tuple[JobName, ...] = (JobName.WORKFLOW_ASSET_TRIGGER,)
"""Job names to register this actor for with the dispatcher."""
HANDLER_SLOTS = 5
NOOP_PREFIX = "noop"
ASSET_UPDATE = "on_asset_update"
ALBUM_UPDATE = "on_album_update"
DEFAULT_ALBUM_ORDER = "desc"

Conn = AsyncConnection[Any]


def workflow_type(steps: list[Mapping[str, Any]]) -> str | None:
    """The first workflow type every step accepts (Immich infers it from the steps)."""
    for candidate in WORKFLOW_TYPES:
        if all(candidate in step["types"] for step in steps):
            return candidate
    return None


def cannot_run(steps: list[Mapping[str, Any]]) -> str | None:
    """Why these steps cannot run whatever the asset: an unknown method, a bad pattern."""
    for step in steps:
        name = step["methodName"]
        if name.startswith(NOOP_PREFIX):
            continue
        if name not in METHODS or name == "webhook":
            return f"Method {step['pluginName']}#{name} is not implemented by this server"
        config = step["config"] or {}
        if config.get("matchType") == "regex":
            try:
                re.compile(str(config.get("pattern", "")))
            except re.error as exc:
                return f"Invalid regular expression in {name}: {exc}"
    return None


class WorkflowRunnerActor(QueueWorker):
    """Owns the runs of workflows. Inbox: ``RunJob`` for ``WorkflowAssetTrigger``.

    A run reads and writes only the database (the asset, its albums, the step's config),
    all inside the job's finishing transaction; errors are the job's, the actor carries on.
    """

    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.WORKFLOW

    def __init__(self, pool: Pool, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)

    async def run_job(self, job: Job) -> JobResult:
        if job.name != JobName.WORKFLOW_ASSET_TRIGGER:
            return self.unexpected(job)
        workflow_id, asset_id = job.data.get("workflowId"), job.data.get("assetId")
        if not isinstance(workflow_id, str) or not isinstance(asset_id, str):
            return JobResult(status="failed", error="job data has no workflowId or assetId", retry=False)
        async with self._pool.connection() as conn:
            workflow = await q.for_run(conn, workflow_id)
        if workflow is None or not workflow["enabled"]:
            return JobResult(status="skipped")
        steps: list[Mapping[str, Any]] = workflow["steps"]
        if workflow_type(steps) is None:
            return JobResult(status="failed", error="Unable to infer workflow event type from steps", retry=False)
        reason = cannot_run(steps)
        if reason is not None:
            return JobResult(status="failed", error=reason, retry=False)
        return JobResult(status="success", apply=partial(self._run, workflow=workflow, asset_id=asset_id))

    async def _run(self, conn: Conn, *, workflow: Mapping[str, Any], asset_id: str) -> None:
        asset = await q.asset_v1(conn, asset_id)
        if asset is None:
            log.info("workflow %s: asset %s is gone", workflow["id"], asset_id)
            return
        owner = UUID(asset["ownerId"])
        for step in workflow["steps"]:
            if step["methodName"].startswith(NOOP_PREFIX):
                continue
            config = dict(step["config"] or {})
            outcome = run_method(step["methodName"], config, {"asset": asset})
            if outcome.changes:
                await self._write_asset(conn, owner, UUID(asset_id), outcome.changes)
            if outcome.albums is not None:
                added_to = await self._add_to_albums(conn, owner, UUID(asset_id), outcome.albums)
                if outcome.albums.album_name is not None and added_to is not None:
                    await q.set_step_config(conn, step["id"], {**config, "albumIds": [str(added_to)]})
            if outcome.changes or outcome.albums is not None:
                asset = await q.asset_v1(conn, asset_id) or asset
            if not outcome.proceed:
                break

    async def _write_asset(self, conn: Conn, owner: UUID, asset_id: UUID, changes: Mapping[str, Any]) -> None:
        await assets_w.update_assets(conn, [asset_id], changes)
        if changes.get("visibility") == "locked":
            await assets_w.remove_from_all_albums(conn, [asset_id])
        await events.publish(conn, owner, ASSET_UPDATE, asset_id, viewer=owner)

    async def _add_to_albums(self, conn: Conn, owner: UUID, asset_id: UUID, request: AlbumRequest) -> UUID | None:
        """Add the asset to the requested albums the owner may add to; the album found or
        created by name, if that was the request."""
        principal = Principal(user_id=owner, elevated=True)
        if not await allowed_ids(conn, principal, "asset.share", [asset_id]):
            return None
        if request.album_name is not None:
            found = await q.owned_album_named(conn, owner, request.album_name)
            if found is None:
                return await albums_w.create(
                    conn, name=request.album_name, description="", cover=asset_id, order=DEFAULT_ALBUM_ORDER,
                    members=[(owner, "owner")], asset_ids=[asset_id],
                )
            album_ids = [found]
        else:
            album_ids = [UUID(i) for i in request.album_ids if _is_uuid(i)]
        allowed = await allowed_ids(conn, principal, "albumAsset.create", album_ids)
        for album_id in album_ids:
            if album_id not in allowed or await albums_w.present_assets(conn, album_id, [asset_id]):
                continue
            await albums_w.add_assets(conn, album_id, [asset_id])
            await albums_w.touch(conn, {album_id: asset_id})
            members = await albums_w.members(conn, [album_id])
            for user_id in members.get(album_id, {}):
                await events.publish_to_user(conn, user_id, ALBUM_UPDATE, str(album_id))
        return album_ids[0] if album_ids else None


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
