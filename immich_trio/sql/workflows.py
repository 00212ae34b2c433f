"""Workflows: a user's ``workflow`` rows and their ordered ``workflow_step`` rows (each naming a
``plugin_method``), the jobs a trigger queues, and what a run reads and writes.

A workflow's steps are replaced as a whole when a request gives ``steps`` (Immich's update);
``order`` is the step's index in the list. A trigger queues one ``WorkflowAssetTrigger`` job per
enabled workflow of the asset's owner on that trigger, in the caller's transaction; an upload's
are held with its metadata job until the file is in place (``jobs.release_held``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from immich_trio.jobs.names import QUEUE_OF, JobName
from immich_trio.sql.jobs.model import notify

Conn = AsyncConnection[Any]

TRIGGER_JOB = JobName.WORKFLOW_ASSET_TRIGGER
EDITABLE = {"trigger": "trigger", "name": "name", "description": "description", "enabled": "enabled"}

_STEPS = """coalesce((SELECT json_agg(json_build_object(
        'pluginName', p.name, 'methodName', m.name, 'config', s.config, 'enabled', s.enabled)
        ORDER BY s."order")
    FROM workflow_step s JOIN plugin_method m ON m.id = s."pluginMethodId" JOIN plugin p ON p.id = m."pluginId"
    WHERE s."workflowId" = w.id), '[]'::json) AS steps"""

SEARCH = f"""
SELECT w.id, w.trigger, w.name, w.description, w.enabled, w."createdAt", w."updatedAt", {_STEPS}
FROM workflow w
WHERE w."ownerId" = %(owner)s
  AND (%(id)s::uuid IS NULL OR w.id = %(id)s::uuid)
  AND (%(trigger)s::text IS NULL OR w.trigger = %(trigger)s::text)
  AND (%(name)s::text IS NULL OR w.name = %(name)s::text)
  AND (%(description)s::text IS NULL OR w.description = %(description)s::text)
  AND (%(enabled)s::boolean IS NULL OR w.enabled = %(enabled)s::boolean)
ORDER BY w."createdAt", w.id
"""

GET = f"""
SELECT w.id, w.trigger, w.name, w.description, w.enabled, w."createdAt", w."updatedAt", {_STEPS}
FROM workflow w WHERE w.id = %s
"""

CREATE = """
INSERT INTO workflow ("ownerId", trigger, name, description, enabled)
VALUES (%s, %s, %s, %s, %s) RETURNING id
"""

DELETE_STEPS = 'DELETE FROM workflow_step WHERE "workflowId" = %s'
INSERT_STEPS = """
INSERT INTO workflow_step ("workflowId", "pluginMethodId", config, enabled, "order")
SELECT %s, x.method, x.config, x.enabled, x.ord - 1
FROM unnest(%s::uuid[], %s::jsonb[], %s::boolean[]) WITH ORDINALITY AS x(method, config, enabled, ord)
"""
DELETE = "DELETE FROM workflow WHERE id = %s"

METHODS = """
SELECT m.id, m.name, m.types, p.name AS "pluginName", p.version AS "pluginVersion"
FROM plugin_method m JOIN plugin p ON p.id = m."pluginId"
"""

QUEUE_TRIGGER = """
INSERT INTO immich_trio.job (queue, name, data, "assetId", run_after)
SELECT %(queue)s, %(name)s,
       jsonb_build_object('workflowId', w.id::text, 'assetId', %(asset)s::text, 'trigger', w.trigger),
       %(asset)s::uuid, %(run_after)s
FROM workflow w
WHERE w."ownerId" = %(owner)s AND w.trigger = %(trigger)s AND w.enabled
RETURNING id
"""

FOR_RUN = """
SELECT w.id, w."ownerId", w.trigger, w.enabled,
       coalesce((SELECT json_agg(json_build_object(
           'id', s.id, 'methodName', m.name, 'pluginName', p.name, 'types', m.types, 'config', s.config)
           ORDER BY s."order")
        FROM workflow_step s JOIN plugin_method m ON m.id = s."pluginMethodId" JOIN plugin p ON p.id = m."pluginId"
        WHERE s."workflowId" = w.id AND s.enabled AND p.enabled), '[]'::json) AS steps
FROM workflow w WHERE w.id = %s
"""

ASSET_V1 = """
SELECT a.id::text, a."ownerId"::text, a.type, a."originalFileName", a."originalPath", a.visibility,
       a."isFavorite", a."localDateTime", a."fileCreatedAt", a."deletedAt",
       (SELECT json_build_object('make', e.make, 'model', e.model, 'lensModel', e."lensModel",
                                 'timeZone', e."timeZone", 'country', e.country, 'state', e.state,
                                 'city', e.city, 'latitude', e.latitude, 'longitude', e.longitude,
                                 'description', e.description, 'rating', e.rating)
        FROM asset_exif e WHERE e."assetId" = a.id) AS "exifInfo",
       ARRAY(SELECT ta."tagId"::text FROM tag_asset ta WHERE ta."assetId" = a.id) AS tags
FROM asset a WHERE a.id = %s
"""

SET_STEP_CONFIG = "UPDATE workflow_step SET config = %s WHERE id = %s"

ALBUM_BY_NAME = """
SELECT a.id FROM album a JOIN album_user au ON au."albumId" = a.id
WHERE au."userId" = %s AND au.role = 'owner' AND a."albumName" = %s AND a."deletedAt" IS NULL
ORDER BY a."createdAt" LIMIT 1
"""


async def search(conn: Conn, owner: UUID, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    params = {key: filters.get(key) for key in ("id", "trigger", "name", "description", "enabled")}
    cur = await conn.execute(SEARCH, {"owner": owner, **params})
    return list(await cur.fetchall())


async def get(conn: Conn, workflow_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(GET, (workflow_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def plugin_methods(conn: Conn) -> list[dict[str, Any]]:
    """Every plugin method with its plugin's name: what a step's ``method`` is resolved against."""
    cur = await conn.execute(METHODS)
    return list(await cur.fetchall())


async def _write_steps(conn: Conn, workflow_id: UUID, steps: Sequence[tuple[UUID, Any, bool]]) -> None:
    await conn.execute(DELETE_STEPS, (workflow_id,))
    if steps:
        await conn.execute(
            INSERT_STEPS,
            (
                workflow_id,
                [method for method, _, _ in steps],
                [None if config is None else Jsonb(config) for _, config, _ in steps],
                [enabled for _, _, enabled in steps],
            ),
        )


async def create(
    conn: Conn, owner: UUID, *, trigger: str, name: str | None, description: str | None, enabled: bool,
    steps: Sequence[tuple[UUID, Any, bool]],
) -> UUID:
    """The workflow and its steps (``(plugin method id, config, enabled)`` in order)."""
    cur = await conn.execute(CREATE, (owner, trigger, name, description, enabled))
    row = await cur.fetchone()
    assert row is not None
    workflow_id: UUID = row["id"]
    await _write_steps(conn, workflow_id, steps)
    return workflow_id


async def update(
    conn: Conn, workflow_id: UUID, changes: Mapping[str, Any], steps: Sequence[tuple[UUID, Any, bool]] | None
) -> None:
    """Set the given fields (``updatedAt`` moves by the table's trigger) and replace the steps if given."""
    sets: list[sql.Composable] = [sql.SQL("{} = {}").format(sql.Identifier(EDITABLE[k]), sql.Literal(v)) for k, v in changes.items()]
    sets.append(sql.SQL("id = id"))
    await conn.execute(
        sql.SQL("UPDATE workflow SET {} WHERE id = {}").format(sql.SQL(", ").join(sets), sql.Literal(workflow_id))
    )
    if steps is not None:
        await _write_steps(conn, workflow_id, steps)


async def delete(conn: Conn, workflow_id: UUID) -> None:
    await conn.execute(DELETE, (workflow_id,))


async def queue_asset_trigger(
    conn: Conn, *, owner: UUID | str, asset_id: UUID | str, trigger: str, run_after: datetime | None = None
) -> int:
    """One ``WorkflowAssetTrigger`` job per enabled workflow of ``owner`` on ``trigger``, in the
    caller's transaction; ``run_after`` holds them (``jobs.HELD_UNTIL``). The number queued."""
    queue = QUEUE_OF[TRIGGER_JOB].value
    cur = await conn.execute(
        QUEUE_TRIGGER,
        {"queue": queue, "name": TRIGGER_JOB.value, "asset": str(asset_id), "owner": owner, "trigger": trigger,
         "run_after": run_after},
    )
    queued = len(await cur.fetchall())
    if queued and run_after is None:
        await notify(conn, queue)
    return queued


async def for_run(conn: Conn, workflow_id: UUID | str) -> dict[str, Any] | None:
    """The workflow with its enabled steps (method name, plugin, types, config), in order."""
    cur = await conn.execute(FOR_RUN, (workflow_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def asset_v1(conn: Conn, asset_id: UUID | str) -> dict[str, Any] | None:
    """The ``AssetV1`` data a step reads: the asset, its exif and its tag ids."""
    cur = await conn.execute(ASSET_V1, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def set_step_config(conn: Conn, step_id: UUID | str, config: Mapping[str, Any]) -> None:
    await conn.execute(SET_STEP_CONFIG, (Jsonb(dict(config)), step_id))


async def owned_album_named(conn: Conn, owner: UUID | str, name: str) -> UUID | None:
    cur = await conn.execute(ALBUM_BY_NAME, (owner, name))
    row = await cur.fetchone()
    return None if row is None else UUID(str(row["id"]))
