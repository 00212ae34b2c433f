"""Mounts the notifier's socket.io endpoint on the Quart-Trio app at `/api/socket.io/`.

Websocket transport only, as Immich: HTTP long-polling gets Engine.IO's 400 answers, and an
upgrade Engine.IO would refuse is refused with the same plain-text 400 before accepting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any, cast

from quart import Response, request, websocket
from quart_trio import QuartTrio

from immich_trio.actors.notifier.engineio import Principal, serve_engineio
from immich_trio.actors.notifier.hub import Hub

PATHS = ("/api/socket.io/", "/api/socket.io")

#: Checks the credentials in the upgrade request's headers (lower-case names); raising any
#: `Exception` means unauthenticated.
HeaderAuthenticator = Callable[[Mapping[str, str]], Awaitable[Principal]]

# Engine.IO's error codes and messages (engine.io `Server.errorMessages`).
_TRANSPORT_UNKNOWN = (0, "Transport unknown")
_SESSION_ID_UNKNOWN = (1, "Session ID unknown")
_BAD_REQUEST = (3, "Bad request")
_UNSUPPORTED_PROTOCOL_VERSION = (5, "Unsupported protocol version")


def register_socketio(app: QuartTrio, *, hub: Hub, authenticate: HeaderAuthenticator) -> None:
    """Add the socket.io websocket route and the polling refusal, with and without `/`."""

    async def socketio_websocket() -> Response | None:
        query = websocket.args
        refusal = _refusal(query.get("transport"), is_upgrade=True)
        if refusal is None and query.get("sid"):
            refusal = _SESSION_ID_UNKNOWN  # no sessions to resume: websocket-only
        if refusal is None and query.get("EIO") != "4":
            refusal = _UNSUPPORTED_PROTOCOL_VERSION
        if refusal is not None:
            # Engine.IO answers a refused upgrade with the bare message as text/html.
            return Response(refusal[1], status=400, content_type="text/html")
        headers = handshake_headers(websocket.headers.items())
        await websocket.accept()
        ws = cast(Any, websocket)._get_current_object()  # the object, not the proxy
        await serve_engineio(ws, hub=hub, authenticate=partial(authenticate, headers))
        return None  # Quart closes the websocket

    async def socketio_polling() -> Response:
        code, message = _refusal(request.args.get("transport"), is_upgrade=False) or _BAD_REQUEST
        response = Response(
            f'{{"code":{code},"message":"{message}"}}', status=400, content_type="application/json"
        )
        response.headers["Access-Control-Allow-Origin"] = "*"  # Immich: `cors: true`
        return response

    for path in PATHS:
        app.add_websocket(path, "socketio_websocket", socketio_websocket, strict_slashes=False)
        app.add_url_rule(
            path,
            "socketio_polling",
            socketio_polling,
            methods=["GET", "POST"],
            strict_slashes=False,
        )


def _refusal(transport: str | None, *, is_upgrade: bool) -> tuple[int, str] | None:
    if transport != "websocket":
        return _TRANSPORT_UNKNOWN
    if not is_upgrade:
        return _BAD_REQUEST  # transport=websocket on a plain HTTP request
    return None


def handshake_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as Node presents them: lower-case names, repeats joined (`; ` for cookies)."""
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in headers:
            headers[key] += ("; " if key == "cookie" else ", ") + value
        else:
            headers[key] = value
    return headers
