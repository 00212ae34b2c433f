"""The access matrix's workflow cast: the core plugin as the server writes it at start, and the
owner's workflow (archive uploads named like "screenshot")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Sql = Callable[..., list[tuple[Any, ...]]]

SNAPSHOT_QUERIES = (
    'SELECT id, "ownerId", trigger, name, description, enabled FROM workflow ORDER BY id',
    'SELECT "workflowId", "pluginMethodId", config, enabled, "order" FROM workflow_step ORDER BY 1, 5',
)


def plugin_and_workflow(sql: Sql, owner_id: str) -> tuple[str, str]:
    """``(plugin id, workflow id)``: a plugin with one method, the owner's workflow using it."""
    [(plugin,)] = sql(
        "INSERT INTO plugin (name, version, title, description, author, \"wasmBytes\", templates, sha256hash)"
        " VALUES ('immich-plugin-core', '2.0.1', 'Core', 'Core', 'Immich Team', '', '[]', '') RETURNING id"
    )
    [(method,)] = sql(
        "INSERT INTO plugin_method (\"pluginId\", name, title, description, types)"
        " VALUES (%s, 'assetArchive', 'Archive asset', 'Archive', '{AssetV1}') RETURNING id",
        (plugin,),
    )
    [(workflow,)] = sql(
        "INSERT INTO workflow (\"ownerId\", trigger, name) VALUES (%s, 'AssetCreate', 'Screenshots') RETURNING id",
        (owner_id,),
    )
    sql(
        'INSERT INTO workflow_step ("workflowId", "pluginMethodId", config, "order") VALUES (%s, %s, %s, 0)',
        (workflow, method, '{"inverse": false}'),
    )
    return str(plugin), str(workflow)
