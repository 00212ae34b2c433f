"""Plugins: the ``plugin`` and ``plugin_method`` rows written from a manifest at start, and the
searches behind ``/api/plugins``.

As Immich's import does, a manifest whose SHA-256 matches the stored plugin's is skipped;
otherwise the plugin row is upserted by name and its methods by ``(pluginId, name)``, and
methods gone from the manifest are deleted unless a workflow step uses them. This server runs
the core plugin natively: a new row's ``wasmBytes`` is empty, and an adopted Immich row keeps
its module (so Immich, started again on the database, finds its plugin whole).
Every process may import at start: a transaction-level advisory lock makes them take turns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from immich_trio.plugins.manifest import TRIGGERS, Manifest

Conn = AsyncConnection[Any]

IMPORT_LOCK = 0x706C7567  # "plug"

STORED_HASH = 'SELECT sha256hash FROM plugin WHERE name = %s'

UPSERT_PLUGIN = """
INSERT INTO plugin (name, version, title, description, author, "wasmBytes", templates, sha256hash)
VALUES (%(name)s, %(version)s, %(title)s, %(description)s, %(author)s, ''::bytea, %(templates)s, %(sha)s)
ON CONFLICT (name) DO UPDATE SET
    version = excluded.version, title = excluded.title, description = excluded.description,
    author = excluded.author, templates = excluded.templates, sha256hash = excluded.sha256hash,
    enabled = true, "updatedAt" = now()
RETURNING id
"""

UPSERT_METHOD = """
INSERT INTO plugin_method ("pluginId", name, title, description, types, "hostFunctions", "allowedHosts",
                           schema, "uiHints")
VALUES (%(plugin)s, %(name)s, %(title)s, %(description)s, %(types)s, %(host)s, %(hosts)s, %(schema)s, %(hints)s)
ON CONFLICT ("pluginId", name) DO UPDATE SET
    title = excluded.title, description = excluded.description, types = excluded.types,
    "hostFunctions" = excluded."hostFunctions", "allowedHosts" = excluded."allowedHosts",
    schema = excluded.schema, "uiHints" = excluded."uiHints"
"""

# Methods gone from the manifest go, unless a workflow step still names one (a database
# adopted from Immich keeps its users' steps; the runner fails such a step as not implemented).
DELETE_GONE_METHODS = """
DELETE FROM plugin_method m WHERE m."pluginId" = %s AND NOT (m.name = ANY(%s::text[]))
  AND NOT EXISTS (SELECT FROM workflow_step s WHERE s."pluginMethodId" = m.id)
"""


async def import_manifest(conn: Conn, manifest: Manifest) -> bool:
    """Write ``manifest``'s plugin and methods unless stored with the same hash; True if written."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
        cur = await conn.execute(STORED_HASH, (manifest.name,))
        row = await cur.fetchone()
        if row is not None and bytes(row["sha256hash"]) == manifest.sha256:
            return False
        cur = await conn.execute(
            UPSERT_PLUGIN,
            {
                "name": manifest.name, "version": manifest.version, "title": manifest.title,
                "description": manifest.description, "author": manifest.author,
                "templates": Jsonb(list(manifest.templates)), "sha": manifest.sha256,
            },
        )
        plugin = await cur.fetchone()
        assert plugin is not None
        for method in manifest.methods:
            schema = method.get("schema")
            await conn.execute(
                UPSERT_METHOD,
                {
                    "plugin": plugin["id"], "name": method["name"], "title": method["title"],
                    "description": method["description"], "types": list(method["types"]),
                    "host": bool(method.get("hostFunctions", False)), "hosts": list(method.get("allowedHosts", [])),
                    "schema": None if schema is None else Jsonb(schema), "hints": list(method.get("uiHints", [])),
                },
            )
        await conn.execute(DELETE_GONE_METHODS, (plugin["id"], [m["name"] for m in manifest.methods]))
    return True


_METHOD_JSON = """json_build_object(
    'pluginName', p.name, 'name', m.name, 'title', m.title, 'description', m.description,
    'types', m.types, 'uiHints', m."uiHints", 'schema', m.schema, 'hostFunctions', m."hostFunctions")"""

SEARCH_PLUGINS = f"""
SELECT p.id, p.name, p.title, p.description, p.author, p.version, p."createdAt", p."updatedAt",
       coalesce((SELECT json_agg({_METHOD_JSON} ORDER BY m.name)
                 FROM plugin_method m WHERE m."pluginId" = p.id), '[]'::json) AS methods
FROM plugin p
WHERE (%(id)s::uuid IS NULL OR p.id = %(id)s::uuid)
  AND (%(enabled)s::boolean IS NULL OR p.enabled = %(enabled)s::boolean)
  AND (%(name)s::text IS NULL OR p.name = %(name)s::text)
  AND (%(version)s::text IS NULL OR p.version = %(version)s::text)
  AND (%(title)s::text IS NULL OR p.title = %(title)s::text)
  AND (%(description)s::text IS NULL OR p.description = %(description)s::text)
ORDER BY p.name
"""

SEARCH_METHODS = f"""
SELECT {_METHOD_JSON} AS method
FROM plugin_method m JOIN plugin p ON p.id = m."pluginId"
WHERE (%(id)s::uuid IS NULL OR m.id = %(id)s::uuid)
  AND (%(enabled)s::boolean IS NULL OR p.enabled = %(enabled)s::boolean)
  AND (%(name)s::text IS NULL OR m.name = %(name)s::text)
  AND (%(title)s::text IS NULL OR m.title = %(title)s::text)
  AND (%(description)s::text IS NULL OR m.description = %(description)s::text)
  AND (%(type)s::text IS NULL OR %(type)s::text = ANY(m.types))
  AND (%(trigger_types)s::text[] IS NULL OR m.types::text[] && %(trigger_types)s::text[])
  AND (%(plugin_name)s::text IS NULL OR p.name = %(plugin_name)s::text)
  AND (%(plugin_version)s::text IS NULL OR p.version = %(plugin_version)s::text)
ORDER BY p.name, m.name
"""

TEMPLATES = "SELECT name, templates FROM plugin WHERE enabled ORDER BY name"

PLUGIN_FILTERS = ("id", "enabled", "name", "version", "title", "description")


async def search_plugins(conn: Conn, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Plugins with their methods (each as JSON, ``pluginName`` included), filtered by equality."""
    params = {key: filters.get(key) for key in PLUGIN_FILTERS}
    cur = await conn.execute(SEARCH_PLUGINS, params)
    return list(await cur.fetchall())


async def get_plugin(conn: Conn, plugin_id: UUID) -> dict[str, Any] | None:
    rows = await search_plugins(conn, {"id": plugin_id})
    return rows[0] if rows else None


async def search_methods(conn: Conn, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    trigger = filters.get("trigger")
    params = {
        "id": filters.get("id"), "enabled": filters.get("enabled"), "name": filters.get("name"),
        "title": filters.get("title"), "description": filters.get("description"), "type": filters.get("type"),
        "trigger_types": None if trigger is None else list(TRIGGERS.get(str(trigger), ())),
        "plugin_name": filters.get("pluginName"), "plugin_version": filters.get("pluginVersion"),
    }
    cur = await conn.execute(SEARCH_METHODS, params)
    return [row["method"] for row in await cur.fetchall()]


async def templates(conn: Conn) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(plugin name, its manifest's templates)`` of every enabled plugin."""
    cur = await conn.execute(TEMPLATES)
    return [(row["name"], list(row["templates"] or [])) for row in await cur.fetchall()]
