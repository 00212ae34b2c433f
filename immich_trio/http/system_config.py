"""The System config tag: get, defaults, update (validated), storage template options."""

from __future__ import annotations

from typing import Any

from immich_trio import sysconfig
from immich_trio.http import validation
from immich_trio.http.context import Ctx
from immich_trio.http.errors import BadRequest, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.sql import events
from immich_trio.storage.template import is_valid_template

# Tokens the storage template accepts (pipeline.md §4), as the web UI offers them.
# Key order as Immich builds the DTO (day, week, month, year, hour, second, minute, presets).
STORAGE_TEMPLATE_OPTIONS: dict[str, list[str]] = {
    "dayOptions": ["d", "dd"],
    "weekOptions": ["W", "WW"],
    "monthOptions": ["M", "MM", "MMM", "MMMM"],
    "yearOptions": ["y", "yy"],
    "hourOptions": ["h", "hh", "H", "HH"],
    "secondOptions": ["s", "ss", "SSS"],
    "minuteOptions": ["m", "mm"],
    "presetOptions": [
        "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
        "{{y}}/{{MM}}-{{dd}}/{{filename}}",
        "{{y}}/{{MMMM}}-{{dd}}/{{filename}}",
        "{{y}}/{{MM}}/{{filename}}",
        "{{y}}/{{#if album}}{{album}}{{else}}Other/{{MM}}{{/if}}/{{filename}}",
        "{{#if album}}{{album-startDate-y}}/{{album}}{{else}}{{y}}/Other/{{MM}}{{/if}}/{{filename}}",
        "{{y}}/{{MMM}}/{{filename}}",
        "{{y}}/{{MMMM}}/{{filename}}",
        "{{y}}/{{MM}}/{{dd}}/{{filename}}",
        "{{y}}/{{MMMM}}/{{dd}}/{{filename}}",
        "{{y}}/{{y}}-{{MM}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
        "{{y}}-{{MM}}-{{dd}}/{{filename}}",
        "{{y}}-{{MMM}}-{{dd}}/{{filename}}",
        "{{y}}-{{MMMM}}-{{dd}}/{{filename}}",
        "{{y}}/{{y}}-{{MM}}/{{filename}}",
        "{{y}}/{{y}}-{{WW}}/{{filename}}",
        "{{y}}/{{y}}-{{MM}}-{{dd}}/{{assetId}}",
        "{{y}}/{{y}}-{{MM}}/{{assetId}}",
        "{{y}}/{{y}}-{{WW}}/{{assetId}}",
        "{{album}}/{{filename}}",
        "{{make}}/{{model}}/{{lensModel}}/{{filename}}",
    ],
}


def _defaults(ctx: Ctx) -> dict[str, Any]:
    return sysconfig.defaults_for(ctx.runtime.settings)


@operation("getConfig")
async def get_config(ctx: Ctx) -> dict[str, Any]:
    async with ctx.db() as conn:
        return await sysconfig.load(conn, _defaults(ctx))


@operation("getConfigDefaults")
async def get_config_defaults(ctx: Ctx) -> dict[str, Any]:
    return sysconfig.normalise(_defaults(ctx))


@operation("getStorageTemplateOptions")
async def get_storage_template_options(ctx: Ctx) -> dict[str, list[str]]:
    return STORAGE_TEMPLATE_OPTIONS


@operation("updateConfig")
async def update_config(ctx: Ctx) -> dict[str, Any]:
    data = await ctx.json()  # validated against SystemConfigDto: types, enums, ranges
    if not isinstance(data, dict):
        raise ValidationFailed([validation._invalid_type("object", data, [])])
    base = _defaults(ctx)
    full = sysconfig.merge(base, data)
    problems = sysconfig.semantic_errors(full)
    if problems:
        raise ValidationFailed(problems)
    if not is_valid_template(full["storageTemplate"]["template"]):
        raise BadRequest("Invalid storage template")
    settings = ctx.runtime.settings
    async with ctx.db() as conn:
        current = await sysconfig.load(conn, base)
        if settings.log_level_from_env and full["logging"] != current["logging"]:
            raise BadRequest(
                "Logging cannot be changed while the environment variable IMMICH_LOG_LEVEL is set."
            )
        async with conn.transaction():
            config = await sysconfig.save(conn, full, base)
            await events.publish_to_all(conn, "on_config_update")
    return config
