"""Every JSON response the HTTP tests see is checked against the spec's schema for it.

The check is stricter than the request validator (``immich_trio.http.validation.validate``), on
purpose: a key the schema does not name is a mismatch (Immich writes exactly its DTO's keys),
dates must be ISO 8601 with a zone, and integers must be whole. It is also looser where the
spec's constraints are zod's request rules that Immich's own answers do not obey: a ``uuid`` is
any UUID (the spec's pattern accepts version 4 only, while Immich's ids are version 7), a date
may carry an offset instead of ``Z`` (rows aggregated to JSON in SQL keep PostgreSQL's form,
docs/reference/behaviour.md §6), and lengths, ranges and patterns are not checked.
``IMMICH_EXTRA_KEYS`` lists the few keys Immich v3.1 sends that its own spec does not name;
nothing else is excused.

``CHECKED`` collects the operations that produced a checked 2xx answer during the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from immich_trio.http import spec

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

CHECKED: set[str] = set()

# (operationId, path in the body) -> keys Immich sends there beyond its spec.
IMMICH_EXTRA_KEYS: dict[tuple[str, str], frozenset[str]] = {
    # the bucket's SQL selects asset.status too (docs/reference/behaviour.md §8, getTimeBucket)
    ("getTimeBucket", "$"): frozenset({"status"}),
}

# (operationId, status) -> the declared status whose schema that answer follows: Immich's
# controller answers a duplicate like with 200 though its spec lists only 201.
IMMICH_EXTRA_STATUSES: dict[tuple[str, int], int] = {("createActivity", 200): 201}

# Immich answers these with a 307 redirect (NestJS ``@Redirect``) though its spec lists 200.
IMMICH_REDIRECTS = frozenset({"redirectOAuthToMobile"})

# Immich answers a shared link without showMetadata with SanitizedAssetResponseDto, a subset of
# AssetResponseDto that its spec does not name (docs/reference/behaviour.md §6).
SANITIZED_ASSET_KEYS = (
    "id type originalMimeType thumbhash localDateTime duration livePhotoVideoId hasMetadata"
    " width height"
).split()
SANITIZED_ASSET_OPERATIONS = frozenset({"getAssetInfo"})

# Immich stores the ``data`` of its album notifications as a JSON *string* and answers it as
# such, though the spec says object (recorded: 033-admin-notifications.json); such a string
# must hold a JSON object.
STRING_DATA_OPERATIONS = frozenset({"getNotifications", "getNotification", "updateNotification"})


def _parse_string_data(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("data"), str):
            data = json.loads(item["data"])
            if not isinstance(data, dict):
                raise ResponseMismatch(f"data string holds no object: {item['data']!r}")
            item = {**item, "data": data}
        out.append(item)
    return out if isinstance(value, list) else out[0]


class ResponseMismatch(AssertionError):
    pass


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


_SHAPING_KEYS = frozenset(
    {"type", "properties", "additionalProperties", "items", "enum", "anyOf", "oneOf", "allOf", "format"}
)


def mismatch(
    schema: Mapping[str, Any], value: Any, path: str = "$", excused: Mapping[str, frozenset[str]] = {}
) -> str | None:
    """The first place where ``value`` differs from ``schema``, as ``path: what``; else None.

    ``excused`` names keys allowed beyond the schema, by path (``IMMICH_EXTRA_KEYS``)."""
    schema = spec.resolve(schema)
    if value is None:
        # A schema with no shape is z.unknown() (an open record's values): null fits it.
        if schema.get("nullable") or not (_SHAPING_KEYS & schema.keys()):
            return None
        return f"{path}: null where the schema is not nullable"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            reasons = [mismatch(option, value, path, excused) for option in schema[key]]
            if all(reasons):
                return f"{path}: no {key} option fits (first: {reasons[0]})"
            return None
    if "enum" in schema:
        if value in schema["enum"]:
            return None
        return f"{path}: {_show(value)} is not one of {schema['enum']}"
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, value, path, excused)
    if kind == "array":
        if not isinstance(value, list):
            return f"{path}: expected an array, got {_show(value)}"
        for i, item in enumerate(value):
            found = mismatch(schema.get("items", {}), item, f"{path}[{i}]", excused)
            if found:
                return found
        return None
    if kind == "string":
        if not isinstance(value, str):
            return f"{path}: expected a string, got {_show(value)}"
        return _string_format(schema.get("format"), value, path)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{path}: expected a {kind}, got {_show(value)}"
        if kind == "integer" and not float(value).is_integer():
            return f"{path}: expected an integer, got {_show(value)}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{path}: expected a boolean, got {_show(value)}"
    return None


def _object(
    schema: Mapping[str, Any], value: Any, path: str, excused: Mapping[str, frozenset[str]]
) -> str | None:
    if not isinstance(value, dict):
        return f"{path}: expected an object, got {_show(value)}"
    props: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            return f"{path}: required key {name!r} is missing"
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if name in props:
            found = mismatch(props[name], item, f"{path}.{name}", excused)
        elif isinstance(extra, dict):
            found = mismatch(extra, item, f"{path}.{name}", excused)
        elif name in excused.get(path, ()):
            found = None
        elif extra is True or (not props and "additionalProperties" not in schema):
            found = None  # a free-form object (``type: object`` with nothing else)
        else:
            found = f"{path}: key {name!r} is not in the schema"
        if found:
            return found
    return None


def _string_format(fmt: str | None, value: str, path: str) -> str | None:
    checks = {"uuid": _UUID, "date-time": _DATETIME, "date": _DATE}
    if fmt in checks and not checks[fmt].match(value):
        return f"{path}: {_show(value)} is not an ISO {fmt}"
    return None


def response_schema(operation_id: str, status: int) -> tuple[bool, Mapping[str, Any] | None]:
    """Whether the spec declares ``status`` for the operation, and its JSON schema if any."""
    op = spec.operations()[operation_id]
    twin = spec.twin_of(op)
    method, path = (twin or op).method.lower(), (twin or op).path.removeprefix("/api")
    responses = spec.spec()["paths"][path][method].get("responses", {})
    declared = responses.get(str(status))
    if declared is None:
        return False, None
    media = declared.get("content", {}).get("application/json")
    return True, None if media is None else media.get("schema")


def check(operation_id: str, status: int, content_type: str, body: bytes) -> None:
    """Raise ``ResponseMismatch`` when a response differs from the spec; record a checked 2xx."""
    where = f"{operation_id} answered {status}"
    if status == 307 and operation_id in IMMICH_REDIRECTS:
        CHECKED.add(operation_id)  # no body to check: the Location is pinned by its test
        return
    if status == 304 or status >= 300:
        return  # errors are not in the spec; their shape is pinned by each test
    declared, schema = response_schema(operation_id, status)
    if status == 206:
        # A Range request on a media route: Immich answers 206 though the spec lists only 200.
        declared, schema = response_schema(operation_id, 200)
        declared = declared and schema is None
    if not declared and (operation_id, status) in IMMICH_EXTRA_STATUSES:
        declared, schema = response_schema(operation_id, IMMICH_EXTRA_STATUSES[operation_id, status])
    if not declared:
        raise ResponseMismatch(f"{where}: the spec declares no such success status")
    if schema is not None:
        if not content_type.startswith("application/json"):
            raise ResponseMismatch(f"{where}: expected JSON, got {content_type!r} ({len(body)} bytes)")
        try:
            value = json.loads(body)
        except ValueError:
            raise ResponseMismatch(f"{where}: the body is not JSON: {body[:80]!r}") from None
        excused = {p: keys for (op, p), keys in IMMICH_EXTRA_KEYS.items() if op == operation_id}
        if (
            operation_id in SANITIZED_ASSET_OPERATIONS
            and isinstance(value, dict)
            and value.get("hasMetadata") is False
        ):
            full = spec.resolve(schema)
            props = {k: full["properties"][k] for k in SANITIZED_ASSET_KEYS}
            schema = {"type": "object", "properties": props, "required": SANITIZED_ASSET_KEYS}
        if operation_id in STRING_DATA_OPERATIONS:
            value = _parse_string_data(value)
        found = mismatch(schema, value, excused=excused)
        if found:
            raise ResponseMismatch(f"{where}: response does not match the spec at {found}")
    CHECKED.add(operation_id)
