"""Bodiless GET/HEAD requests of spec operations, answered from the ASGI call without Quart's dispatch.

For each request Quart pushes app and request contexts, binds and matches werkzeug's URL map,
runs hooks and signals: about half the server's CPU for a small JSON read (profile in
``benchmarks/bench_requests.py``). A spec view needs none of that: it gets the Quart
``Request`` it reads and returns a ``Response``, which Quart's own ASGI code sends. Whatever
this table does not answer unambiguously (other methods, a body, a path that werkzeug might
route differently, websockets, our own routes) goes to Quart unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import attrs
import trio
from quart import Request, Response
from quart.asgi import ASGIHTTPConnection
from quart.utils import encode_headers
from quart.wrappers.response import DataBody
from quart_trio import QuartTrio
from werkzeug.datastructures import Headers


@attrs.frozen
class Prepared:
    """A finished answer as ASGI sends it (lower-case header names): the common JSON reply
    skips building a werkzeug ``Response`` (a tenth of a small request's CPU)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def to_response(self) -> Response:
        """The same answer for Quart's dispatch (which sets Content-Length itself)."""
        headers = [(k.decode(), v.decode()) for k, v in self.headers if k != b"content-length"]
        return Response(self.body, status=self.status, headers=Headers(headers))


# (request, raw path parameters) -> the response, with the finishing headers set.
Answer = Callable[[Request, dict[str, str]], Awaitable[Response | Prepared]]
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
_PARAMETER = re.compile(r"\\\{(\w+)\\\}")
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


class LookupHeaders(Headers):
    """Werkzeug's ``Headers`` whose miss in ``get`` costs a scan, not an exception.

    Werkzeug answers a missing key by raising ``BadRequestKeyError`` (an HTTP exception built
    with its description) and catching it: the request's own construction asks for two absent
    headers, the ETag check for a third, a few microseconds each.
    """

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            wanted = key.lower()
            for name, _ in self._list:
                if name.lower() == wanted:
                    break
            else:
                return default
        return super().get(key, default, type)


class RouteTable:
    """GET routes of the spec: literal paths by dict, templated ones by regex (werkzeug's ``[^/]+``)."""

    def __init__(self, literal_paths_of_any_method: Iterable[str]) -> None:
        self._literal: dict[str, Answer] = {}
        self._templated: list[tuple[re.Pattern[str], Answer]] = []
        # A literal path of another method may make werkzeug answer 405 rather than match a
        # template: those paths are left to werkzeug.
        self._other_literals = frozenset(literal_paths_of_any_method)

    def add(self, path: str, answer: Answer) -> None:
        if "{" not in path:
            self._literal[path] = answer
        else:
            regex = _PARAMETER.sub(r"(?P<\1>[^/]+)", re.escape(path))
            self._templated.append((re.compile(regex + r"\Z"), answer))

    def match(self, path: str) -> tuple[Answer, dict[str, str]] | None:
        answer = self._literal.get(path)
        if answer is not None:
            return answer, {}
        if path in self._other_literals:
            return None
        found: tuple[Answer, dict[str, str]] | None = None
        for pattern, candidate in self._templated:
            matched = pattern.match(path)
            if matched is not None:
                if found is not None:
                    return None  # more than one template: werkzeug's ranking decides
                found = (candidate, matched.groupdict())
        return found


def _bodiless(scope: dict[str, Any]) -> bool:
    for name, value in scope["headers"]:
        if name in _BODY_HEADERS and value not in (b"0", b""):
            return False
    return True


class DirectGets:
    """ASGI wrapper: answers the table's routes itself, hands everything else to ``inner``."""

    def __init__(self, app: QuartTrio, table: RouteTable, inner: ASGIApp) -> None:
        self._app = app
        self._table = table
        self._inner = inner
        # Read once: the app's configuration is set before it serves.
        self._max_content_length = app.config["MAX_CONTENT_LENGTH"]
        self._body_timeout = app.config["BODY_TIMEOUT"]

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("root_path")
            and scope["path"][:1] == "/"
            and _bodiless(scope)
            and (found := self._table.match(scope["path"])) is not None
        ):
            await self._answer(scope, receive, send, *found)
        else:
            await self._inner(scope, receive, send)

    def _request(self, connection: ASGIHTTPConnection, scope: dict[str, Any],
                 send: Callable[[Any], Awaitable[None]]) -> Request:
        """Quart's request from the scope (as ``ASGIHTTPConnection._create_request_from_scope``
        builds it; the path is absolute and there is no root path, checked by the caller)."""
        headers = LookupHeaders()
        headers["Remote-Addr"] = (scope.get("client") or ["<local>"])[0]
        for name, value in scope["headers"]:
            headers.add(name.decode("latin1").title(), value.decode("latin1"))
        if scope["http_version"] < "1.1":
            headers.setdefault("Host", self._app.config["SERVER_NAME"] or "")
        return self._app.request_class(
            scope["method"],
            scope["scheme"],
            scope["path"],
            scope["query_string"],
            headers,
            "",
            scope["http_version"],
            max_content_length=self._max_content_length,
            body_timeout=self._body_timeout,
            send_push_promise=partial(connection._send_push_promise, send),
            scope=scope,  # type: ignore[arg-type]
        )

    async def _answer(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                      send: Callable[[Any], Awaitable[None]], answer: Answer, raw_path: dict[str, str]) -> None:
        # Quart's own request construction and response sending, without its dispatch.
        connection = ASGIHTTPConnection(self._app, scope)  # type: ignore[arg-type]
        request = self._request(connection, scope, send)
        request.body.set_complete()
        # No disconnect watcher while the answer is computed: a bodiless GET's answer is a
        # few reads, and a watcher task per request (spawn, park, cancel) cost about a tenth
        # of a small request's CPU. Sends to a client that went away are dropped by Hypercorn.
        response = await answer(request, raw_path)
        if isinstance(response, Prepared):
            await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            await send({"type": "http.response.body", "body": response.body, "more_body": False})
            return
        body = response.response
        if isinstance(body, DataBody) and body.begin == 0 and body.end == len(body.data):
            # Bytes in hand: one body message (Quart's sender adds an empty closing one).
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": encode_headers(response.headers)})
            await send({"type": "http.response.body", "body": body.data, "more_body": False})
            return
        # A streamed body (a file, a range of one): as Quart-Trio does, a client that goes
        # away stops the sending.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            await connection._send_response(send, response)
            nursery.cancel_scope.cancel()


async def _cancel_on_disconnect(receive: Callable[[], Awaitable[Any]], scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


def install(app: QuartTrio, table: RouteTable) -> None:
    """Put the table in front of ``app``'s ASGI entry point (Hypercorn and the test client use it)."""
    app.asgi_app = DirectGets(app, table, app.asgi_app)  # type: ignore[method-assign,assignment,arg-type]
