"""The system config: Immich's defaults deep-merged with the partial stored in system_metadata.

``PUT /system-config`` stores only the leaves that differ from the defaults (never empty,
null or '' leaves), as Immich does (system-config.md). Readers call ``load(conn)``. A save
sends a NOTIFY in its transaction; each process's config watch (``actors/config_watch.py``)
reloads the config and calls the listeners registered here with ``subscribe``, so a change
saved by any process applies live in every process (job concurrency, cached settings).
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

from immich_trio.config import Settings
from immich_trio.sql import events

KEY = "system-config"
Config = dict[str, Any]

_listeners: list[Callable[[Config], None]] = []


@cache
def _defaults_json() -> str:
    return (
        resources.files("immich_trio.http")
        .joinpath("system-config-defaults.json")
        .read_text("utf-8")
    )


def defaults(*, ml_url: str | None = None, ml_enabled: bool | None = None) -> Config:
    config: Config = json.loads(_defaults_json())
    if ml_url:
        config["machineLearning"]["urls"] = [ml_url]
    if ml_enabled is not None:
        config["machineLearning"]["enabled"] = ml_enabled
    return config


def defaults_for(settings: Settings) -> Config:
    """The defaults as this process's environment shapes them (system-config.md)."""
    return defaults(ml_url=settings.machine_learning_url, ml_enabled=settings.machine_learning_enabled)


def merge(base: Config, partial: Any) -> Config:
    """Deep-merge ``partial`` over a copy of ``base``; lists and scalars replace.

    Keys unknown to ``base`` are dropped, as Immich's non-strict DTOs strip them: they are
    neither stored nor echoed back.
    """
    out = copy.deepcopy(base)
    if not isinstance(partial, dict):
        return out
    for key, value in partial.items():
        if key not in out:
            continue
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


_process_defaults: Config | None = None


def set_process_defaults(config: Config | None) -> None:
    """The defaults this process's environment shapes (``defaults_for(settings)``), used by every
    ``load``/``save`` that names no base: a worker that reads the config sees what the HTTP
    layer sees (e.g. ``IMMICH_MACHINE_LEARNING_ENABLED=false``). None: the plain defaults."""
    global _process_defaults
    _process_defaults = copy.deepcopy(config) if config is not None else None


def _base(base: Config | None) -> Config:
    if base is not None:
        return base
    return _process_defaults if _process_defaults is not None else defaults()


async def load(conn: AsyncConnection[Any], base: Config | None = None) -> Config:
    """The effective config: defaults with the stored partial merged over them."""
    return normalise(merge(_base(base), await load_partial(conn)))


async def save(conn: AsyncConnection[Any], full: Config, base: Config | None = None) -> Config:
    """Store what differs from the defaults; return the new effective config."""
    base = _base(base)
    partial = diff(base, full)
    await conn.execute(
        "INSERT INTO system_metadata (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (KEY, Jsonb(partial)),
    )
    await events.publish_config_saved(conn)
    return normalise(merge(base, partial))


def subscribe(listener: Callable[[Config], None]) -> Callable[[], None]:
    """Call ``listener(config)`` whenever a saved config reaches this process (from any
    process, once its transaction commits); returns an unsubscribe."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def tell_listeners(config: Config) -> None:
    """Hand a freshly loaded config to this process's listeners (the config watch calls it)."""
    for listener in list(_listeners):
        listener(config)


# cron's CronTime (what Immich validates with): 5 or 6 fields, lists of values, ranges and
# steps, month/day names, and the @-presets.
_CRON_PRESETS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly", "@minutely"}
_CRON_NAMES = {
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "dow": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
# (name, low, high) per field of a six-field expression; five fields drop the seconds
_CRON_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("dom", 1, 31),
    ("month", 1, 12),
    ("dow", 0, 7),
)
_CRON_ITEM = re.compile(r"^(\*|\?|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(\d+))?$")


def _cron_value(field: str, text: str) -> int | None:
    if text.isdigit():
        return int(text)
    names = _CRON_NAMES.get(field, [])
    if text in names:
        return names.index(text) + (1 if field == "month" else 0)
    return None


def check_cron(expression: str) -> bool:
    text = expression.strip().lower()
    if text in _CRON_PRESETS:
        return True
    fields = text.split()
    if len(fields) not in (5, 6):
        return False
    specs = _CRON_FIELDS[6 - len(fields) :]
    for raw, (name, low, high) in zip(fields, specs, strict=True):
        for item in raw.split(","):
            match = _CRON_ITEM.match(item)
            if match is None or match.group(2) == "0":
                return False
            span = match.group(1)
            if span in ("*", "?"):
                continue
            bounds = [_cron_value(name, part) for part in span.split("-")]
            if any(b is None or not low <= b <= high for b in bounds):
                return False
            if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
                return False
    return True


def _custom(path: list[str | int], message: str) -> dict[str, Any]:
    return {"code": "custom", "path": path, "message": message}


def semantic_errors(config: Config) -> list[dict[str, Any]]:
    """Rules the spec's schema does not carry (system-config.md "Validation highlights"),
    as zod ``custom`` issues."""
    errors: list[dict[str, Any]] = []
    crons = [
        ("backup", "database"),
        ("library", "scan"),
        ("integrityChecks", "missingFiles"),
        ("integrityChecks", "untrackedFiles"),
        ("integrityChecks", "checksumFiles"),
    ]
    for section, job in crons:
        settings = config[section][job]
        # like Immich's ValidateIf: a disabled job's expression is not checked
        if settings["enabled"] and not check_cron(settings["cronExpression"]):
            path: list[str | int] = [section, job, "cronExpression"]
            errors.append(_custom(path, "cronExpression must be a valid cron expression"))
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", config["nightlyTasks"]["startTime"]):
        errors.append(_custom(["nightlyTasks", "startTime"], "startTime must be in HH:MM format"))
    ml = config["machineLearning"]
    if ml["enabled"]:
        for i, url in enumerate(ml["urls"]):
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(_custom(["machineLearning", "urls", i], "Invalid URL"))
    errors.extend(_oauth_errors(config["oauth"]))
    return errors


# Scheme-relative parsing is not enough: WHATWG's ``new URL()`` (zod's ``z.url()``) takes any
# ``scheme:rest`` but wants a host for the special schemes and no spaces or brackets in it.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SPECIAL_SCHEMES = {"http", "https", "ws", "wss", "ftp"}


def is_url(text: str) -> bool:
    """Roughly what zod's ``z.url()`` accepts: a string ``new URL()`` parses (after trim)."""
    text = text.strip()
    scheme, colon, _ = text.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        return False
    if scheme.lower() not in _SPECIAL_SCHEMES:
        return True
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        return False
    return host is not None and host != "" and not re.search(r"[\s<>^|%]", host)


# system-config.dto.ts SystemConfigOAuthSchema: two refined URL fields, then (only when the
# object parsed cleanly, as a zod transform runs) the mobile redirect check, reported at the
# object's own path.
_OAUTH_URL_FIELDS = (
    ("issuerUrl", "Issuer URL must be an empty string or a valid URL"),
    ("endSessionEndpoint", "endSessionEndpoint must be an empty string or a valid URL"),
)
MOBILE_REDIRECT_MESSAGE = "Mobile redirect URI must be an empty string or a valid URL"


def _oauth_errors(oauth: Config) -> list[dict[str, Any]]:
    errors = [
        _custom(["oauth", key], message)
        for key, message in _OAUTH_URL_FIELDS
        if oauth[key] and not is_url(oauth[key])
    ]
    if errors or not oauth["mobileOverrideEnabled"]:
        return errors
    uri = oauth["mobileRedirectUri"]
    if uri and not is_url(uri):
        return [{"code": "custom", "message": MOBILE_REDIRECT_MESSAGE, "path": ["oauth"]}]
    return []
