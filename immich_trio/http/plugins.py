"""The Plugins tag: the installed plugins, their methods and their workflow templates.

As Immich's plugin service: every authenticated user reads them (``plugin.read``); search
filters match exactly; a method's ``key`` is ``<plugin>#<method>``; an unknown plugin id is
400 ``Plugin not found``. Templates come from the plugins' manifests, keyed
``<plugin>#<template>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, iso_z
from immich_trio.http.dto.generated import (
    PluginMethodResponseDto,
    PluginResponseDto,
    PluginTemplateResponseDto,
    PluginTemplateStepResponseDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.plugins.manifest import method_key
from immich_trio.sql import plugins as q

PLUGIN_NOT_FOUND = "Plugin not found"


def method_dto(method: Mapping[str, Any]) -> PluginMethodResponseDto:
    schema = method.get("schema")
    return PluginMethodResponseDto(
        key=method_key(method["pluginName"], method["name"]),
        name=method["name"],
        title=method["title"],
        description=method["description"],
        types=list(method["types"]),
        ui_hints=list(method["uiHints"]),
        schema=OMIT if schema is None else dict(schema),
        host_functions=bool(method["hostFunctions"]),
    )


def plugin_dto(row: Mapping[str, Any]) -> PluginResponseDto:
    return PluginResponseDto(
        id=row["id"],
        name=row["name"],
        title=row["title"],
        description=row["description"],
        author=row["author"],
        version=row["version"],
        created_at=iso_z(row["createdAt"]),
        updated_at=iso_z(row["updatedAt"]),
        methods=[method_dto(m) for m in row["methods"]],
    )


def template_dto(plugin_name: str, template: Mapping[str, Any]) -> PluginTemplateResponseDto:
    return PluginTemplateResponseDto(
        key=f"{plugin_name}#{template['key']}",
        title=template["title"],
        description=template["description"],
        trigger=template["trigger"],
        ui_hints=list(template.get("uiHints", [])),
        steps=[
            PluginTemplateStepResponseDto(
                method=step["method"], config=step.get("config"),
                enabled=step["enabled"] if "enabled" in step else OMIT,
            )
            for step in template["steps"]
        ],
    )


@operation("searchPlugins")
async def search_plugins(ctx: Ctx) -> list[PluginResponseDto]:
    async with ctx.db() as conn:
        rows = await q.search_plugins(conn, ctx.query)
    return [plugin_dto(row) for row in rows]


@operation("searchPluginMethods")
async def search_plugin_methods(ctx: Ctx) -> list[PluginMethodResponseDto]:
    async with ctx.db() as conn:
        methods = await q.search_methods(conn, ctx.query)
    return [method_dto(m) for m in methods]


@operation("searchPluginTemplates")
async def search_plugin_templates(ctx: Ctx) -> list[PluginTemplateResponseDto]:
    async with ctx.db() as conn:
        found = await q.templates(conn)
    return [template_dto(name, template) for name, templates in found for template in templates]


@operation("getPlugin")
async def get_plugin(ctx: Ctx) -> PluginResponseDto:
    async with ctx.db() as conn:
        row = await q.get_plugin(conn, UUID(str(ctx.path["id"])))
    if row is None:
        raise BadRequest(PLUGIN_NOT_FOUND)
    return plugin_dto(row)
