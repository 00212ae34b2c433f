"""Request validation against the spec's schemas, reported as zod v4 issues (as Immich does).

Issues mimic zod v4's (what Immich's DTOs are built with): same codes, field order and English
messages; ``input`` is left out, as Immich does not report it. Query and path parameters are
coerced from their strings first (``coerce_parameter``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from immich_trio.http.spec import resolve

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+\Z")
# NUL cannot be stored by PostgreSQL (text or jsonb) and a lone surrogate cannot be encoded in
# UTF-8: such strings are refused at the edge, for every field, instead of failing in the driver.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Invalid string: must not contain NUL or unpaired surrogate characters"


@functools.lru_cache(maxsize=256)
def _js_regex(pattern: str) -> re.Pattern[str]:
    """The spec's (JavaScript) pattern for Python: a final ``$`` is JS's end of input, which in
    Python is ``\\Z`` (Python's ``$`` also matches before a trailing newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern)


def _unstorable(path: list[Any]) -> dict[str, Any]:
    return {"origin": "string", "code": "invalid_format", "format": "regex", "path": path, "message": UNSTORABLE_MESSAGE}


def unstorable_strings(value: Any) -> list[dict[str, Any]]:
    """Issues for every string (object keys included) of a parsed JSON value holding NUL or a
    lone surrogate. Iterative: the value may be nested as deep as the JSON parser allowed."""
    issues: list[dict[str, Any]] = []
    pending: list[tuple[Any, list[Any]]] = [(value, [])]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                issues.append(_unstorable(path))
        elif isinstance(item, dict):
            for key, sub in item.items():
                if _UNSTORABLE.search(key):
                    issues.append(_unstorable([*path, key]))
                pending.append((sub, [*path, key]))
        elif isinstance(item, list):
            pending.extend((sub, [*path, i]) for i, sub in enumerate(item))
    return issues


def _type_name(value: Any) -> str:
    """zod's ``parsedType``: what the message says was received."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# zod has no integer type: z.int() fails its type check as "expected number".
_EXPECTED = {"integer": "number"}


def _invalid_type(
    expected: str, value: Any, path: list[Any], missing: bool = False
) -> dict[str, Any]:
    expected = _EXPECTED.get(expected, expected)
    received = "undefined" if missing else _type_name(value)
    issue: dict[str, Any] = {"expected": expected, "code": "invalid_type"}
    if received == "NaN":
        issue["received"] = "NaN"
    issue["path"] = path
    issue["message"] = f"Invalid input: expected {expected}, received {received}"
    return issue


def _invalid_value(values: list[Any], path: list[Any]) -> dict[str, Any]:
    def show(v: Any) -> str:
        return f'"{v}"' if isinstance(v, str) else json.dumps(v)

    if len(values) == 1:
        message = f"Invalid input: expected {show(values[0])}"
    else:
        message = "Invalid option: expected one of " + "|".join(show(v) for v in values)
    return {"code": "invalid_value", "values": values, "path": path, "message": message}


def _absent(
    schema: Mapping[str, Any], value: Any, path: list[Any], missing: bool
) -> dict[str, Any]:
    """The issue for ``undefined`` (missing) or a non-nullable ``null``."""
    if "enum" in schema:
        return _invalid_value(list(schema["enum"]), path)
    kind = schema.get("type") or ("array" if "items" in schema else "object")
    return _invalid_type(str(kind), value, path, missing)


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return False
    return "T" in text or " " in text


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_url(text: str) -> bool:
    """Roughly WHATWG's ``new URL()``: a scheme, and a host for the special schemes."""
    parts = urlsplit(text.strip())
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or ""):
        return False
    if parts.scheme.lower() in ("http", "https", "ws", "wss", "ftp"):
        return bool(parts.hostname)
    return True


_SHAPING_KEYS = frozenset(
    {"type", "properties", "additionalProperties", "items", "enum", "anyOf", "oneOf", "allOf", "format"}
)
"""A schema with none of these is zod's ``z.unknown()`` (e.g. the values of an open record):
it takes anything, null included."""


def validate(
    schema: Mapping[str, Any], value: Any, path: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Check ``value`` against an OpenAPI schema; return zod-style issues (empty when valid)."""
    path = path or []
    schema = resolve(schema)
    if value is None:
        accepted = schema.get("nullable") or not (_SHAPING_KEYS & schema.keys())
        return [] if accepted else [_absent(schema, value, path, False)]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            errors = []
            for option in schema[key]:
                option_issues = validate(option, value, [])
                if not option_issues:
                    return []
                errors.append(option_issues)
            return [
                {
                    "code": "invalid_union",
                    "errors": errors,
                    "path": path,
                    "message": "Invalid input",
                }
            ]
    if "enum" in schema:
        return [] if value in schema["enum"] else [_invalid_value(list(schema["enum"]), path)]
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        if not isinstance(value, dict):
            return [_invalid_type("object", value, path)]
        issues: list[dict[str, Any]] = []
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        for name, sub in props.items():
            if name not in value:
                if name in required:
                    issues.append(_absent(resolve(sub), None, [*path, name], True))
                continue
            issues.extend(validate(sub, value[name], [*path, name]))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, item in value.items():
                if name not in props:
                    issues.extend(validate(extra, item, [*path, name]))
        return issues
    if kind == "array":
        if not isinstance(value, list):
            return [_invalid_type("array", value, path)]
        issues = []
        for i, item in enumerate(value):
            issues.extend(validate(schema.get("items", {}), item, [*path, i]))
        # zod runs the size checks after the elements
        if "minItems" in schema and len(value) < schema["minItems"]:
            issues.append(_too("small", "array", schema["minItems"], path))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            issues.append(_too("big", "array", schema["maxItems"], path))
        return issues
    if kind == "string":
        if not isinstance(value, str):
            return [_invalid_type("string", value, path)]
        return _check_string(schema, value, path)
    if kind in ("integer", "number"):
        return _check_number(schema, value, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            return [_invalid_type("boolean", value, path)]
        return []
    return []


def _check_number(schema: Mapping[str, Any], value: Any, path: list[Any]) -> list[dict[str, Any]]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return [_invalid_type("number", value, path)]
    if schema.get("type") == "integer" and not float(value).is_integer():
        return [
            {
                "expected": "int",
                "format": "safeint",
                "code": "invalid_type",
                "path": path,
                "message": "Invalid input: expected int, received number",
            }
        ]
    issues: list[dict[str, Any]] = []
    low, high = schema.get("minimum"), schema.get("maximum")
    # OpenAPI 3.0 flags (``exclusiveMinimum: true``) and 3.1 numbers both occur
    low_excl, high_excl = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if not isinstance(low_excl, bool) and low_excl is not None:
        low, low_excl = low_excl, True
    if not isinstance(high_excl, bool) and high_excl is not None:
        high, high_excl = high_excl, True
    if low is not None and (value <= low if low_excl else value < low):
        issues.append(_too("small", "number", low, path, inclusive=not low_excl))
    if high is not None and (value >= high if high_excl else value > high):
        issues.append(_too("big", "number", high, path, inclusive=not high_excl))
    return issues


_SIZING = {"string": "characters", "array": "items"}


def _too(
    which: str, origin: str, limit: Any, path: list[Any], *, inclusive: bool = True
) -> dict[str, Any]:
    if which == "small":
        op = ">=" if inclusive else ">"
    else:
        op = "<=" if inclusive else "<"
    shown = json.dumps(limit)
    if origin in _SIZING:
        message = f"Too {which}: expected {origin} to have {op}{shown} {_SIZING[origin]}"
    else:
        message = f"Too {which}: expected {origin} to be {op}{shown}"
    return {
        "origin": origin,
        "code": f"too_{which}",
        "minimum" if which == "small" else "maximum": limit,
        "inclusive": inclusive,
        "path": path,
        "message": message,
    }


# OpenAPI format -> (zod's format name, message, fallback check when the spec gives no pattern)
_FORMATS: dict[str, tuple[str, str, Callable[[str], bool]]] = {
    "uuid": ("uuid", "Invalid UUID", lambda v: bool(_UUID.match(v))),
    "email": ("email", "Invalid email address", lambda v: bool(_EMAIL.match(v))),
    "date-time": ("datetime", "Invalid ISO datetime", _is_datetime),
    "date": ("date", "Invalid ISO date", _is_date),
}


def _check_string(schema: Mapping[str, Any], value: str, path: list[Any]) -> list[dict[str, Any]]:
    """zod runs every string check and reports each failure."""
    issues: list[dict[str, Any]] = []
    if _UNSTORABLE.search(value):
        issues.append(_unstorable(path))
    fmt = schema.get("format") or ""
    pattern = schema.get("pattern")
    if fmt in _FORMATS:
        name, message, check = _FORMATS[fmt]
        # the spec's pattern is zod's own regex for the format (uuid: version 4 only)
        ok = bool(_js_regex(pattern).search(value)) if pattern else check(value)
        if not ok:
            issue: dict[str, Any] = {"origin": "string", "code": "invalid_format", "format": name}
            if pattern:
                issue["pattern"] = f"/{pattern}/"
            issues.append({**issue, "path": path, "message": message})
        pattern = None
    elif fmt == "uri" and not _is_url(value):
        issues.append(
            {"code": "invalid_format", "format": "url", "path": path, "message": "Invalid URL"}
        )
    if "minLength" in schema and len(value) < schema["minLength"]:
        issues.append(_too("small", "string", schema["minLength"], path))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        issues.append(_too("big", "string", schema["maxLength"], path))
    if pattern and not _js_regex(pattern).search(value):
        issues.append(
            {
                "origin": "string",
                "code": "invalid_format",
                "format": "regex",
                "pattern": f"/{pattern}/",
                "path": path,
                "message": f"Invalid string: must match pattern /{pattern}/",
            }
        )
    return issues


def coerce_parameter(
    schema: Mapping[str, Any], raw: str | list[str], path: list[Any]
) -> tuple[Any, list[dict[str, Any]]]:
    """Convert a query/path string to the schema's type (booleans accept exactly true/false)."""
    schema = resolve(schema)
    kind = schema.get("type")
    if kind == "array":
        items = raw if isinstance(raw, list) else [raw]
        values = []
        issues: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            v, errs = coerce_parameter(schema.get("items", {}), item, [*path, i])
            values.append(v)
            issues.extend(errs)
        if "minItems" in schema and len(values) < schema["minItems"]:
            issues.append(_too("small", "array", schema["minItems"], path))
        if "maxItems" in schema and len(values) > schema["maxItems"]:
            issues.append(_too("big", "array", schema["maxItems"], path))
        return values, issues
    if isinstance(raw, list):
        raw = raw[-1]
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", []
        return raw, [_invalid_value(["true", "false"], path)]
    value: Any = raw
    if kind in ("integer", "number") and "enum" not in schema:
        # z.coerce.number(): anything Number() cannot read becomes NaN
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if math.isnan(number) or raw.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
            return raw, [_invalid_type("number", math.nan, path)]
        value = int(number) if number.is_integer() else number
    return value, validate(schema, value, path)
