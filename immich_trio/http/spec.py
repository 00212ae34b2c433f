"""The contract: Immich v3.1's OpenAPI operations, their permissions, and request validation.

``openapi.json`` is Immich's published spec and ``permissions.json`` the reference's table of
credentials per operation (both shipped as package data). Requests are validated against the
spec's schemas, and failures are reported as zod-style issues, as Immich does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import attrs

ALL = "all"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


@attrs.frozen(kw_only=True)
class Operation:
    operation_id: str
    method: str
    path: str  # with the /api prefix, OpenAPI style: /api/users/{id}
    tag: str
    public: bool
    admin_only: bool
    shared_link: bool
    # None: an API key needs no permission; "all": the key needs "all".
    permission: str | None
    success_status: int
    parameters: tuple[dict[str, Any], ...] = ()
    body_schema: dict[str, Any] | None = None
    body_content_type: str | None = None
    hidden: bool = False  # an undocumented twin (permissions.json's hiddenRoutes)


def _load(name: str) -> Any:
    return json.loads(resources.files("immich_trio.http").joinpath(name).read_text("utf-8"))


@cache
def spec() -> dict[str, Any]:
    return _load("openapi.json")  # type: ignore[no-any-return]


@cache
def permissions() -> dict[str, Any]:
    return _load("permissions.json")  # type: ignore[no-any-return]


def _permission(value: str | None) -> str | None:
    if value is None:
        return None
    return ALL if value.startswith("all") else value


@cache
def operations() -> dict[str, Operation]:
    """Every operation of the spec, by operationId, plus the hidden PATCH twins."""
    s = spec()
    perms = permissions()["operations"]
    prefix = s.get("servers", [{"url": "/api"}])[0]["url"]
    out: dict[str, Operation] = {}
    for path, item in s["paths"].items():
        for method, op in item.items():
            op_id = op["operationId"]
            p = perms.get(op_id, {})
            success = min((int(c) for c in op.get("responses", {}) if c.startswith("2")), default=200)
            body_schema = None
            body_type = None
            content = op.get("requestBody", {}).get("content", {})
            for ctype, media in content.items():
                body_type = ctype
                body_schema = media.get("schema")
                break
            out[op_id] = Operation(
                operation_id=op_id,
                method=method.upper(),
                path=prefix + path,
                tag=(op.get("tags") or ["Other"])[0],
                public=p.get("auth") == "public" or op.get("security") is None,
                admin_only=bool(p.get("adminOnly") or op.get("x-immich-admin-only")),
                shared_link=bool(p.get("sharedLink")),
                permission=_permission(p.get("apiKeyPermission", op.get("x-immich-permission"))),
                success_status=success,
                parameters=tuple(op.get("parameters", ())),
                body_schema=body_schema,
                body_content_type=body_type,
            )
    by_route = {(o.method, o.path): o for o in out.values()}
    for hidden in permissions()["hiddenRoutes(not in spec)"]:
        op_id = hidden["operationId(internal)"]
        path = hidden["path"]
        twin = by_route.get(("PUT", path))
        if hidden["method"] != "PATCH" or twin is None:
            continue  # /.well-known/immich and /custom.css are our own routes
        out[op_id] = attrs.evolve(twin, operation_id=op_id, method="PATCH", hidden=True)
    return out


def twin_of(op: Operation) -> Operation | None:
    """The documented PUT operation that an undocumented PATCH route mirrors."""
    if not op.hidden:
        return None
    for other in operations().values():
        if not other.hidden and other.method == "PUT" and other.path == op.path:
            return other
    return None


# --- validation -------------------------------------------------------------------------


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**spec()["components"]["schemas"][name], **extra}
    if "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {**resolve(schema["allOf"][0]), **{k: v for k, v in schema.items() if k != "allOf"}}
        return merged
    return schema


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _invalid_type(expected: str, value: Any, path: list[Any], missing: bool = False) -> dict[str, Any]:
    received = "undefined" if missing else _type_name(value)
    return {
        "expected": expected,
        "code": "invalid_type",
        "path": path,
        "message": f"Invalid input: expected {expected}, received {received}",
    }


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


def validate(schema: Mapping[str, Any], value: Any, path: list[Any] | None = None) -> list[dict[str, Any]]:
    """Check ``value`` against an OpenAPI schema; return zod-style issues (empty when valid)."""
    path = path or []
    schema = resolve(schema)
    if value is None:
        if schema.get("nullable"):
            return []
        expected = schema.get("type") or "object"
        return [_invalid_type(str(expected), value, path)]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            for option in schema[key]:
                if not validate(option, value, path):
                    return []
            return [{"code": "invalid_union", "path": path, "message": "Invalid input"}]
    if "enum" in schema:
        if value not in schema["enum"]:
            options = "|".join(json.dumps(v) for v in schema["enum"])
            return [
                {
                    "code": "invalid_value",
                    "values": list(schema["enum"]),
                    "path": path,
                    "message": f"Invalid option: expected one of {options}",
                }
            ]
        return []
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
                    sub_r = resolve(sub)
                    issues.append(_invalid_type(str(sub_r.get("type", "object")), None, [*path, name], True))
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
        if "minItems" in schema and len(value) < schema["minItems"]:
            issues.append(_too("small", "array", "items", schema["minItems"], path))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            issues.append(_too("big", "array", "items", schema["maxItems"], path))
        for i, item in enumerate(value):
            issues.extend(validate(schema.get("items", {}), item, [*path, i]))
        return issues
    if kind == "string":
        if not isinstance(value, str):
            return [_invalid_type("string", value, path)]
        return _check_string(schema, value, path)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [_invalid_type("number", value, path)]
        if kind == "integer" and not float(value).is_integer():
            return [_invalid_type("int", value, path)]
        if "minimum" in schema and value < schema["minimum"]:
            return [_too("small", "number", "", schema["minimum"], path)]
        if "maximum" in schema and value > schema["maximum"]:
            return [_too("big", "number", "", schema["maximum"], path)]
        return []
    if kind == "boolean":
        if not isinstance(value, bool):
            return [_invalid_type("boolean", value, path)]
        return []
    return []


def _too(which: str, origin: str, unit: str, limit: Any, path: list[Any]) -> dict[str, Any]:
    op = ">=" if which == "small" else "<="
    if origin == "number":
        message = f"Too {which}: expected number to be {op}{limit}"
    else:
        message = f"Too {which}: expected {origin} to have {op}{limit} {unit}"
    return {
        "origin": origin,
        "code": f"too_{which}",
        "minimum" if which == "small" else "maximum": limit,
        "inclusive": True,
        "path": path,
        "message": message,
    }


def _check_string(schema: Mapping[str, Any], value: str, path: list[Any]) -> list[dict[str, Any]]:
    fmt = schema.get("format")
    bad = {
        "uuid": ("Invalid UUID", lambda v: _UUID.match(v)),
        "email": ("Invalid email address", lambda v: _EMAIL.match(v)),
        "date-time": ("Invalid ISO datetime", _is_datetime),
        "date": ("Invalid ISO date", _is_date),
    }.get(fmt or "")
    if bad is not None and not bad[1](value):
        return [{"origin": "string", "code": "invalid_format", "format": fmt, "path": path, "message": bad[0]}]
    if "minLength" in schema and len(value) < schema["minLength"]:
        return [_too("small", "string", "characters", schema["minLength"], path)]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return [_too("big", "string", "characters", schema["maxLength"], path)]
    pattern = schema.get("pattern")
    if pattern and fmt not in ("uuid", "email", "date-time", "date") and not re.search(pattern, value):
        return [
            {
                "origin": "string",
                "code": "invalid_format",
                "format": "regex",
                "pattern": pattern,
                "path": path,
                "message": f"Invalid string: must match pattern {pattern}",
            }
        ]
    return []


def coerce_parameter(schema: Mapping[str, Any], raw: str | list[str], path: list[Any]) -> tuple[Any, list[dict[str, Any]]]:
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
        return values, issues
    if isinstance(raw, list):
        raw = raw[-1]
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", []
        return raw, [
            {"code": "invalid_value", "values": ["true", "false"], "path": path,
             "message": 'Invalid option: expected one of "true"|"false"'}
        ]
    value: Any = raw
    if kind in ("integer", "number"):
        try:
            value = int(raw) if kind == "integer" else float(raw)
        except ValueError:
            return raw, [_invalid_type("number", "NaN", path)]
    return value, validate(schema, value, path)
