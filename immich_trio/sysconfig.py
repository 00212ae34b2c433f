"""The system config: Immich's defaults deep-merged with the partial stored in system_metadata.

``PUT /system-config`` stores only the leaves that differ from the defaults (never empty,
null or '' leaves), as Immich does (system-config.md). Readers call ``load(conn)``; listeners
registered with ``subscribe`` hear of every saved change (job concurrency applies live).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

KEY = "system-config"
Config = dict[str, Any]

_listeners: list[Callable[[Config], None]] = []


@cache
def _defaults_json() -> str:
    return resources.files("immich_trio.http").joinpath("system-config-defaults.json").read_text("utf-8")


def defaults(*, ml_url: str | None = None, ml_enabled: bool | None = None) -> Config:
    config: Config = json.loads(_defaults_json())
    if ml_url:
        config["machineLearning"]["urls"] = [ml_url]
    if ml_enabled is not None:
        config["machineLearning"]["enabled"] = ml_enabled
    return config


def merge(base: Config, partial: Any) -> Config:
    """Deep-merge ``partial`` over a copy of ``base``; lists and scalars replace."""
    out = copy.deepcopy(base)
    if not isinstance(partial, dict):
        return out
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value is not None and value != "":
            out[key] = copy.deepcopy(value)
    return out


def diff(base: Config, full: Config) -> Config:
    """The leaves of ``full`` that differ from ``base`` (never None or '')."""
    out: Config = {}
    for key, value in full.items():
        if value is None or value == "":
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            sub = diff(base[key], value)
            if sub:
                out[key] = sub
        elif base.get(key) != value:
            out[key] = value
    return out


def normalise(config: Config) -> Config:
    domain = config["server"].get("externalDomain") or ""
    if domain:
        parts = urlsplit(domain)
        if parts.scheme and parts.netloc:
            config["server"]["externalDomain"] = f"{parts.scheme}://{parts.netloc}"
    ffmpeg = config["ffmpeg"]
    if ffmpeg["targetVideoCodec"] not in ffmpeg["acceptedVideoCodecs"]:
        ffmpeg["acceptedVideoCodecs"].append(ffmpeg["targetVideoCodec"])
    if ffmpeg["targetAudioCodec"] not in ffmpeg["acceptedAudioCodecs"]:
        ffmpeg["acceptedAudioCodecs"].append(ffmpeg["targetAudioCodec"])
    return config


async def load_partial(conn: AsyncConnection[Any]) -> Config:
    cur = await conn.execute("SELECT value FROM system_metadata WHERE key = %s", (KEY,))
    row = await cur.fetchone()
    if row is None:
        return {}
    value = row["value"] if isinstance(row, dict) else row[0]
    return value if isinstance(value, dict) else {}


async def load(conn: AsyncConnection[Any], base: Config | None = None) -> Config:
    """The effective config: defaults with the stored partial merged over them."""
    return normalise(merge(base if base is not None else defaults(), await load_partial(conn)))


async def save(conn: AsyncConnection[Any], full: Config, base: Config | None = None) -> Config:
    """Store what differs from the defaults; return the new effective config."""
    base = base if base is not None else defaults()
    partial = diff(base, full)
    await conn.execute(
        "INSERT INTO system_metadata (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (KEY, Jsonb(partial)),
    )
    config = normalise(merge(base, partial))
    for listener in list(_listeners):
        listener(config)
    return config


def subscribe(listener: Callable[[Config], None]) -> Callable[[], None]:
    """Call ``listener(config)`` after every save in this process; returns an unsubscribe."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


_CRON_FIELD = re.compile(r"^(\*|\d+|\d+-\d+|\*/\d+|\d+(,\d+)+|\d+-\d+/\d+)$")


def check_cron(expression: str) -> bool:
    fields = expression.split()
    return len(fields) in (5, 6) and all(_CRON_FIELD.match(f) for f in fields)


def semantic_errors(config: Config) -> list[str]:
    """Rules the schema does not carry (system-config.md 'Validation highlights')."""
    errors: list[str] = []
    if not check_cron(config["backup"]["database"]["cronExpression"]):
        errors.append("backup.database.cronExpression must be a valid cron expression")
    if not check_cron(config["library"]["scan"]["cronExpression"]):
        errors.append("library.scan.cronExpression must be a valid cron expression")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", config["nightlyTasks"]["startTime"]):
        errors.append("nightlyTasks.startTime must be in HH:MM format")
    if not config["machineLearning"]["urls"]:
        errors.append("machineLearning.urls must contain at least 1 elements")
    for key in ("issuerUrl", "endSessionEndpoint"):
        value = config["oauth"].get(key) or ""
        if value and not urlsplit(value).scheme:
            errors.append(f"oauth.{key} must be a URL address")
    return errors
