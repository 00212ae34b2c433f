"""The Quart-Trio application: every spec operation routed, checked and answered as Immich does."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import xxhash
from quart import Request, Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from immich_trio.http import (
    credentials,
    direct,
    hypercorn_patches,  # noqa: F401  (fixes kept-alive connections at import)
    maintenance_edge,
    registry,
    spec,
    validation,
)
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.dto import dumps
from immich_trio.http.errors import (
    HttpError,
    NotImplementedYet,
    ServiceUnavailable,
    ValidationFailed,
    failed_message,
)
from immich_trio.http.socketio import mount_socketio
from immich_trio.runtime import Runtime
from immich_trio.sql.errors import DatabaseUnavailable

log = logging.getLogger("immich_trio.http")

# One module per Immich API tag; importing it registers its operations.
TAG_MODULES = (
    "server",
    "server_license",
    "authentication",
    "oauth",
    "users",
    "users_admin",
    "api_keys",
    "sessions",
    "system_metadata",
    "system_config",
    "jobs",
    "queues",
    "timeline",
    "search",
    "search_places",
    "people",
    "people_search",
    "faces",
    "search_smart",
    "duplicates",
    "map",
    "assets.upload",
    "assets.info",
    "assets.edits",
    "assets.editing",
    "assets.copy_jobs",
    "assets.metadata",
    "assets.media",
    "assets.video_stream",
    "trash",
    "albums.read",
    "albums.edit",
    "albums.assets",
    "albums.members",
    "activities",
    "partners",
    "notifications",
    "tags",
    "notifications_admin",
    "download",
    "shared_links.manage",
    "shared_links.assets",
    "shared_links.holder",
    "memories",
    "stacks",
    "sync",
    "integrity",
    "database_backups",
    "maintenance",
    "calendar_heatmap",
    "views",
    "plugins",
    "workflows",
    "libraries",
)
# Routes of our own, outside the spec (the coverage test allows exactly these).
OWN_ROUTES = (
    ("GET", "/.well-known/immich"),
    ("GET", "/custom.css"),
    ("GET", "/api/reactor/status"),
    # socket.io: the websocket transport, and Engine.IO's refusal of polling.
    ("GET", "/api/socket.io"),
    ("GET", "/api/socket.io/"),
    ("POST", "/api/socket.io"),
    ("POST", "/api/socket.io/"),
)
JSON_BODY_LIMIT = 10 * 1024 * 1024
CORRELATION_HEADER = "X-Correlation-ID"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_JSON_CONTENT_TYPE_BYTES = JSON_CONTENT_TYPE.encode()


def quart_path(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else dumps(body)
    return Response(data, status=status, headers=headers, content_type=JSON_CONTENT_TYPE)


def _correlation_id(request: Request) -> str:
    # Not a secret: a fast non-cryptographic 128-bit id (uuid4 reads os.urandom per request).
    return request.headers.get(CORRELATION_HEADER) or f"{random.getrandbits(128):032x}"


async def finish_response(request: Request, response: Response | direct.Prepared) -> Response | direct.Prepared:
    """Every answer: the correlation id; JSON reads: a strong ETag, and 304 when it matches."""
    if isinstance(response, direct.Prepared) or CORRELATION_HEADER in response.headers:
        return response  # answered by _respond, which did this work already
    correlation = _correlation_id(request)
    response.headers[CORRELATION_HEADER] = correlation
    if (
        request.method in ("GET", "HEAD")
        and response.status_code == 200
        and response.mimetype == "application/json"
        and "ETag" not in response.headers
    ):
        data = await response.get_data(as_text=False)
        etag = strong_etag(data)
        response.headers["ETag"] = etag
        if etag in request.headers.get("If-None-Match", ""):
            not_modified = Response(b"", status=304)
            not_modified.headers["ETag"] = etag
            not_modified.headers[CORRELATION_HEADER] = correlation
            return not_modified
    return response


def error_response(exc: HttpError) -> Response:
    return json_response(json.dumps(exc.body()).encode(), exc.status)


def strong_etag(data: bytes) -> str:
    """Length and a 128-bit XXH3 of the bytes (not a cryptographic hash: a validator of our own
    answers; SHA-1 cost 8-20 ms on the 14 MB of 100,000 map markers, XXH3 half a millisecond)."""
    digest = base64.b64encode(xxhash.xxh3_128_digest(data)).decode()[:22]
    return f'"{len(data):x}-{digest}"'


def _first_leaf(group: BaseExceptionGroup[HttpError]) -> HttpError:
    """The first error of a group (nurseries inside handlers wrap the errors they raise)."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _parse_query(op: spec.Operation, request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    issues: list[dict[str, Any]] = []
    for param in op.parameters:
        if param.get("in") != "query":
            continue
        name = param["name"]
        schema = param.get("schema", {})
        raw = request.args.getlist(name)
        if not raw:
            if param.get("required"):
                issues.append(validation._invalid_type(str(spec.resolve(schema).get("type", "string")), None, [name], True))
            continue
        is_array = spec.resolve(schema).get("type") == "array"
        value, errs = validation.coerce_parameter(schema, raw if is_array else raw[-1], [name])
        issues.extend(errs)
        values[name] = value
    if issues:
        raise ValidationFailed(issues)
    return values


def _parse_path(op: spec.Operation, raw: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    issues: list[dict[str, Any]] = []
    for param in op.parameters:
        if param.get("in") != "path":
            continue
        name = param["name"]
        value, errs = validation.coerce_parameter(param.get("schema", {}), raw.get(name, ""), [name])
        issues.extend(errs)
        values[name] = value
    if issues:
        raise ValidationFailed(issues)
    return values


def _respond(op: spec.Operation, request: Request, result: Any) -> Response | direct.Prepared:
    if isinstance(result, Response):
        return result
    if isinstance(result, Reply):
        reply = result
    elif result is not None:
        # The common case: a body with the operation's status; ETag and 304 done here, from
        # the bytes in hand, so that the after-request hook has nothing left to do.
        data = result if isinstance(result, bytes) else dumps(result)
        correlation = _correlation_id(request)
        raw = [(b"x-correlation-id", correlation.encode())]
        if op.success_status == 200 and request.method in ("GET", "HEAD"):
            etag = strong_etag(data)
            if etag in request.headers.get("If-None-Match", ""):
                return Response(b"", status=304, headers={CORRELATION_HEADER: correlation, "ETag": etag})
            raw.append((b"etag", etag.encode()))
        raw += [(b"content-type", _JSON_CONTENT_TYPE_BYTES), (b"content-length", str(len(data)).encode())]
        return direct.Prepared(op.success_status, raw, data)
    else:
        reply = Reply(body=result)
    status = reply.status or op.success_status
    if reply.body is None:
        response = Response(b"", status=status)
    else:
        response = json_response(reply.body, status)
    for name, value in reply.headers.items():
        response.headers[name] = value
    for cookie in reply.cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


def _make_answer(runtime: Runtime, op: spec.Operation, handler: registry.Handler | None) -> direct.Answer:
    async def answer(request: Request, raw_path: dict[str, str]) -> Response | direct.Prepared:
        return await finish_response(request, await _answer(request, raw_path))

    async def _answer(request: Request, raw_path: dict[str, str]) -> Response | direct.Prepared:
        error: HttpError | None = None
        try:
            auth = None
            in_maintenance = runtime.maintenance.active
            if in_maintenance:
                await maintenance_edge.admit(runtime, op, request)
            if not op.public and not in_maintenance:
                headers, query_creds = credentials.credential_sources(request)
                auth = await credentials.resolve(runtime, headers, query_creds)
                credentials.check_route(op, auth)
            if handler is None:
                raise NotImplementedYet(op.operation_id)
            ctx = Ctx(
                runtime=runtime,
                request=request,
                op=op,
                auth=auth,
                path=_parse_path(op, raw_path),
                query=_parse_query(op, request),
            )
            return _respond(op, request, await handler(ctx))
        # Split, never unwrap: the HTTP errors of a group answer the request (the first of
        # them, even beside other errors); whatever no clause matches, Cancelled included,
        # propagates untouched.
        except* HttpError as group:
            error = _first_leaf(group)
        except* DatabaseUnavailable as group:
            log.warning("database unavailable during %s: %s", op.operation_id, group.exceptions[0])
            error = error or ServiceUnavailable("Database unavailable")
        except* Exception:
            log.exception("%s failed", op.operation_id)
            name = handler.__name__ if handler is not None else op.operation_id
            error = error or HttpError(failed_message(name))
        assert error is not None
        return error_response(error)

    return answer


def _make_view(answer: direct.Answer) -> Callable[..., Awaitable[Response]]:
    async def view(**raw_path: str) -> Response:
        response = await answer(request._get_current_object(), raw_path)  # type: ignore[attr-defined]
        return response.to_response() if isinstance(response, direct.Prepared) else response

    return view


def create_app(runtime: Runtime) -> QuartTrio:
    app = QuartTrio("immich_trio")
    app.config["MAX_CONTENT_LENGTH"] = JSON_BODY_LIMIT
    app.config["BODY_TIMEOUT"] = 24 * 3600
    app.config["RESPONSE_TIMEOUT"] = 24 * 3600
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for name in TAG_MODULES:
        importlib.import_module(f"immich_trio.http.{name}")
    handlers = registry.handlers()
    gets = direct.RouteTable(op.path for op in spec.operations().values() if "{" not in op.path and op.method != "GET")
    for op in spec.operations().values():
        handler = handlers.get(op.operation_id)
        if handler is None and op.hidden:
            twin = spec.twin_of(op)
            handler = handlers.get(twin.operation_id) if twin else None
        answer = _make_answer(runtime, op, handler)
        if op.method == "GET":
            gets.add(op.path, answer)
        view = _make_view(answer)
        view.__name__ = f"op_{op.operation_id}"
        app.add_url_rule(quart_path(op.path), endpoint=op.operation_id, view_func=view, methods=[op.method])
    from immich_trio.http import own_routes

    own_routes.register(app, runtime)
    mount_socketio(app, runtime)
    importlib.import_module("immich_trio.http.multipart").install(app)  # streamed POST /api/assets body
    direct.install(app, gets)  # bodiless GETs of spec routes skip Quart's dispatch
    if runtime.settings.web_root is not None:
        from immich_trio.http import web

        web.install(app, runtime.settings.web_root, runtime)

    @app.errorhandler(HTTPException)
    async def http_exception(exc: HTTPException) -> Response:
        if exc.code in (404, 405):
            return error_response(HttpError(f"Cannot {request.method} {request.path}").with_status(404))
        if exc.code == 413:
            return error_response(HttpError("request entity too large").with_status(413))
        return error_response(HttpError(exc.description or exc.name).with_status(exc.code or 500))

    @app.after_request
    async def finish(response: Response) -> Response:
        finished = await finish_response(request._get_current_object(), response)  # type: ignore[attr-defined]
        return finished.to_response() if isinstance(finished, direct.Prepared) else finished

    return app
