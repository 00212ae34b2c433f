"""The Workflows tag: a user's automations (a trigger and ordered steps of plugin methods).

As Immich's workflow service: a workflow belongs to its owner (``workflow.read`` /
``workflow.update`` / ``workflow.delete``; another user's id is 400 ``Not found or no ...
access``); a step names its method ``<plugin>[@<version>]#<method>``, and an unknown one is
400 ``Unknown method <method>``, one whose types the trigger does not offer is 400
``Method "<method>" is incompatible with workflow trigger: "<trigger>"``. Steps given on an
update replace the old ones; the share form leaves out ids and dates and ``enabled`` unless
false. The workflows run in ``actors/workflow_runner.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, iso_z, value_or
from immich_trio.http.dto.generated import (
    WorkflowCreateDto,
    WorkflowResponseDto,
    WorkflowShareResponseDto,
    WorkflowShareStepDto,
    WorkflowStepDto,
    WorkflowTriggerResponseDto,
    WorkflowUpdateDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.plugins.manifest import TRIGGERS, compatible, method_key, parse_method_key
from immich_trio.sql import workflows as q

WORKFLOW_NOT_FOUND = "Workflow not found"


def _steps(row: Mapping[str, Any]) -> list[WorkflowStepDto]:
    return [
        WorkflowStepDto(
            method=method_key(s["pluginName"], s["methodName"]), config=s["config"], enabled=bool(s["enabled"])
        )
        for s in row["steps"]
    ]


def workflow_dto(row: Mapping[str, Any]) -> WorkflowResponseDto:
    return WorkflowResponseDto(
        id=row["id"],
        trigger=row["trigger"],
        name=row["name"],
        description=row["description"],
        enabled=bool(row["enabled"]),
        created_at=iso_z(row["createdAt"]),
        updated_at=iso_z(row["updatedAt"]),
        steps=_steps(row),
    )


def share_dto(row: Mapping[str, Any]) -> WorkflowShareResponseDto:
    return WorkflowShareResponseDto(
        trigger=row["trigger"],
        name=row["name"],
        description=row["description"],
        steps=[
            WorkflowShareStepDto(
                method=method_key(s["pluginName"], s["methodName"]), config=s["config"],
                enabled=OMIT if s["enabled"] else False,
            )
            for s in row["steps"]
        ],
    )


async def _resolve_steps(
    conn: Any, steps: Sequence[WorkflowStepDto], trigger: str
) -> list[tuple[UUID, Any, bool]]:
    """``(plugin method id, config, enabled)`` of each step, or Immich's 400 for the first bad one."""
    if not steps:
        return []
    methods = {(m["pluginName"], m["name"]): m for m in await q.plugin_methods(conn)}
    resolved: list[tuple[UUID, Any, bool]] = []
    for step in steps:
        parsed = parse_method_key(step.method)
        method = methods.get(parsed) if parsed is not None else None
        if method is None:
            raise BadRequest(f"Unknown method {step.method}")
        if not compatible(list(method["types"]), trigger):
            raise BadRequest(f'Method "{step.method}" is incompatible with workflow trigger: "{trigger}"')
        enabled = value_or(step.enabled, True)
        resolved.append((method["id"], step.config, enabled))
    return resolved


async def _find_or_fail(conn: Any, workflow_id: UUID) -> dict[str, Any]:
    row = await q.get(conn, workflow_id)
    if row is None:
        raise BadRequest(WORKFLOW_NOT_FOUND)
    return row


def _given(value: Any) -> bool:
    return value is not OMIT


@operation("getWorkflowTriggers")
async def get_workflow_triggers(ctx: Ctx) -> list[WorkflowTriggerResponseDto]:
    return [WorkflowTriggerResponseDto(trigger=t, types=list(types)) for t, types in TRIGGERS.items()]  # type: ignore[arg-type]


@operation("searchWorkflows")
async def search_workflows(ctx: Ctx) -> list[WorkflowResponseDto]:
    async with ctx.db() as conn:
        rows = await q.search(conn, ctx.user.id, ctx.query)
    return [workflow_dto(row) for row in rows]


@operation("createWorkflow")
async def create_workflow(ctx: Ctx) -> WorkflowResponseDto:
    dto = await ctx.body(WorkflowCreateDto)
    async with ctx.db() as conn, conn.transaction():
        steps = await _resolve_steps(conn, value_or(dto.steps, []), dto.trigger)
        workflow_id = await q.create(
            conn, ctx.user.id, trigger=dto.trigger,
            name=value_or(dto.name, None),
            description=value_or(dto.description, None),
            enabled=value_or(dto.enabled, True),
            steps=steps,
        )
        return workflow_dto(await _find_or_fail(conn, workflow_id))


@operation("getWorkflow")
async def get_workflow(ctx: Ctx) -> WorkflowResponseDto:
    workflow_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "workflow.read", [workflow_id])
        return workflow_dto(await _find_or_fail(conn, workflow_id))


@operation("getWorkflowForShare")
async def get_workflow_for_share(ctx: Ctx) -> WorkflowShareResponseDto:
    workflow_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        await require_access(ctx, conn, "workflow.read", [workflow_id])
        return share_dto(await _find_or_fail(conn, workflow_id))


@operation("updateWorkflow")
async def update_workflow(ctx: Ctx) -> WorkflowResponseDto:
    workflow_id = UUID(str(ctx.path["id"]))
    dto = await ctx.body(WorkflowUpdateDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "workflow.update", [workflow_id])
        current = await _find_or_fail(conn, workflow_id)
        trigger = value_or(dto.trigger, current["trigger"])
        steps = await _resolve_steps(conn, dto.steps, trigger) if _given(dto.steps) else None  # type: ignore[arg-type]
        changes = {
            field: value
            for field, value in (
                ("trigger", dto.trigger), ("name", dto.name), ("description", dto.description), ("enabled", dto.enabled),
            )
            if _given(value)
        }
        await q.update(conn, workflow_id, changes, steps)
        return workflow_dto(await _find_or_fail(conn, workflow_id))


@operation("deleteWorkflow")
async def delete_workflow(ctx: Ctx) -> None:
    workflow_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "workflow.delete", [workflow_id])
        await q.delete(conn, workflow_id)
