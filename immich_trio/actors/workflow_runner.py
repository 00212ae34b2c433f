"""The workflow runner: runs a user's workflow on the asset that triggered it.

Immich's ``WorkflowAssetTrigger`` job (queue ``workflow``), data ``{workflowId, assetId,
trigger}``, queued by ``sql/workflows.queue_asset_trigger`` when an asset is uploaded
(``AssetCreate``) or its metadata extracted (``AssetMetadataExtraction``, not after a sidecar
write). As Immich runs it: the workflow's enabled steps in order, each a core-plugin method
(``plugins/core.py``, native instead of WebAssembly) given the step's config and the
``AssetV1`` data; a filter that says no stops the workflow; an action's asset changes are
seen by the next steps and written as the owner (elevated, so ``locked`` is allowed);
``assetAddToAlbums`` adds the asset to the owner's albums (finding or creating the album
named in the config when no id is given, and keeping the new id in the step's config, as
Immich's plugin does); ``webhook`` posts ``{type, trigger, data}``. A workflow gone or
disabled by then does nothing.

The steps run on the asset as read, then the webhooks are sent (one that cannot be delivered
fails the job, which runs again), and every database write is the job's ``apply``: it commits
with the job's deletion, so the writes happen at most once and never half-way. A step whose
method this server does not know, or whose pattern is not a valid regular expression, fails
the job for good.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

import attrs
import httpx
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.plugins.core import METHODS, AlbumRequest, WebhookRequest, run_method
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
CHANGEABLE = ("visibility", "isFavorite")
WEBHOOK_TIMEOUT = 10.0
HTTP_ERROR = 400

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
        if name not in METHODS:
            return f"Method {step['pluginName']}#{name} is not implemented by this server"
        config = step["config"] or {}
        if config.get("matchType") == "regex":
            try:
                re.compile(str(config.get("pattern", "")))
            except re.error as exc:
                return f"Invalid regular expression in {name}: {exc}"
    return None


@attrs.define
class Plan:
    """What a run does, worked out on the asset as read: the asset columns that end up
    changed, the album steps, and the webhooks with the data each one saw."""

    changes: dict[str, Any] = attrs.field(factory=dict)
    albums: list[tuple[str, dict[str, Any], AlbumRequest]] = attrs.field(factory=list)
    webhooks: list[tuple[WebhookRequest, dict[str, Any]]] = attrs.field(factory=list)


def plan_run(workflow: Mapping[str, Any], asset: Mapping[str, Any]) -> Plan:
    """Run the steps in order on ``asset`` (an action's changes are seen by the next steps, as
    Immich reads the asset again after a write) until one says stop."""
    plan = Plan()
    current = dict(asset)
    for step in workflow["steps"]:
        if step["methodName"].startswith(NOOP_PREFIX):
            continue
        config = dict(step["config"] or {})
        outcome = run_method(step["methodName"], config, {"asset": current})
        current.update(outcome.changes)
        if outcome.albums is not None:
            plan.albums.append((step["id"], config, outcome.albums))
        if outcome.webhook is not None:
            payload = {"type": WORKFLOW_TYPES[0], "trigger": workflow["trigger"], "data": {"asset": _jsonable(current)}}
            plan.webhooks.append((outcome.webhook, payload))
        if not outcome.proceed:
            break
    plan.changes = {k: v for k, v in current.items() if k in CHANGEABLE and v != asset.get(k)}
    return plan


class WorkflowRunnerActor(QueueWorker):
    """Owns the runs of workflows. Inbox: ``RunJob`` for ``WorkflowAssetTrigger``.

    The steps run on the asset as read; webhooks are sent then (a failed one fails the job,
    which runs again); the asset and album writes are the job's ``apply``. Errors are the
    job's; the actor carries on.
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
            asset = await q.asset_v1(conn, asset_id) if workflow is not None else None
        if workflow is None or not workflow["enabled"]:
            return JobResult(status="skipped")
        steps: list[Mapping[str, Any]] = workflow["steps"]
        if workflow_type(steps) is None:
            return JobResult(status="failed", error="Unable to infer workflow event type from steps", retry=False)
        reason = cannot_run(steps)
        if reason is not None:
            return JobResult(status="failed", error=reason, retry=False)
        if asset is None:
            log.info("workflow %s: asset %s is gone", workflow_id, asset_id)
            return JobResult(status="skipped")
        plan = plan_run(workflow, asset)
        async with self.limiter:
            for request, payload in plan.webhooks:
                error = await send_webhook(request, payload)
                if error is not None:
                    return JobResult(status="failed", error=error)
        return JobResult(
            status="success", apply=partial(self._write, owner=UUID(asset["ownerId"]), asset_id=UUID(asset_id), plan=plan)
        )

    async def _write(self, conn: Conn, *, owner: UUID, asset_id: UUID, plan: Plan) -> None:
        if plan.changes:
            await assets_w.update_assets(conn, [asset_id], plan.changes)
            if plan.changes.get("visibility") == "locked":
                await assets_w.remove_from_all_albums(conn, [asset_id])
            await events.publish(conn, owner, ASSET_UPDATE, asset_id, viewer=owner)
        for step_id, config, request in plan.albums:
            added_to = await self._add_to_albums(conn, owner, asset_id, request)
            if request.album_name is not None and added_to is not None:
                await q.set_step_config(conn, step_id, {**config, "albumIds": [str(added_to)]})

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


async def send_webhook(request: WebhookRequest, payload: Mapping[str, Any]) -> str | None:
    """Send one webhook; the error text if it could not be delivered."""
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT) as client:
            response = await client.request(
                request.method, request.url, content=json.dumps(payload), headers=dict(request.headers)
            )
    except (httpx.HTTPError, ValueError) as exc:
        return f"Webhook {request.url} failed: {exc}"
    if response.status_code >= HTTP_ERROR:
        log.warning("webhook %s answered %s", request.url, response.status_code)
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
