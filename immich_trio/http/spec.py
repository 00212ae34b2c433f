"""The contract: Immich v3.1's OpenAPI operations, their permissions, and request validation.

``openapi.json`` is Immich's published spec and ``permissions.json`` the reference's table of
credentials per operation (both shipped as package data). Requests are validated against the
spec's schemas, and failures are reported as zod-style issues, as Immich does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import attrs

ALL = "all"


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
            success = min(
                (int(c) for c in op.get("responses", {}) if c.startswith("2")), default=200
            )
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



def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**spec()["components"]["schemas"][name], **extra}
    if "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {
            **resolve(schema["allOf"][0]),
            **{k: v for k, v in schema.items() if k != "allOf"},
        }
        return merged
    return schema
