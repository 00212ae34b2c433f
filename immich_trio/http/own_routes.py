"""Routes outside the spec: Immich's hidden ones and ours (supervision status; the metrics have
their own port, ``http/metrics.py``)."""

from __future__ import annotations

import hashlib
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from immich_trio.http import credentials
from immich_trio.http.errors import Forbidden, HttpError, ServiceUnavailable, Unauthorized
from immich_trio.runtime import Runtime
from immich_trio.sql.errors import DatabaseUnavailable

# While the database is down, credentials cannot be checked; the status tree is what an
# operator needs most then, so admins verified recently keep access to it (this route only).
STATUS_GRACE_SECONDS = 600.0
_recent_admins: dict[str, float] = {}


def _credential_fingerprint(headers: dict[str, str], query: dict[str, str]) -> str:
    parts = [headers.get(h, "") for h in ("authorization", "x-api-key", "x-immich-user-token", "cookie")]
    parts += [query.get("apiKey", ""), query.get("sessionKey", "")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _status_tree(runtime: Runtime) -> dict[str, Any]:
    if runtime.status is None:
        return {"supervisors": []}
    return runtime.status()


def register(app: QuartTrio, runtime: Runtime) -> None:
    from immich_trio.http.app import error_response, json_response

    @app.route("/.well-known/immich", methods=["GET"])
    async def well_known() -> Response:
        return json_response({"api": {"endpoint": "/api"}})

    @app.route("/custom.css", methods=["GET"])
    async def custom_css() -> Response:
        from immich_trio import sysconfig

        try:
            async with runtime.pool.connection() as conn:
                config = await sysconfig.load(conn)
        except DatabaseUnavailable:
            return error_response(ServiceUnavailable("Database unavailable"))
        return Response(config["theme"]["customCss"], content_type="text/css; charset=utf-8")

    @app.route("/api/reactor/status", methods=["GET"])
    async def reactor_status() -> Response:
        """Admin only: an admin's session, or an admin's API key holding ``all``."""
        try:
            headers, query = credentials.credential_sources(request, shared_links=False)
            auth = await credentials.resolve(runtime, headers, query)
            if auth is None:
                raise Unauthorized("Authentication required")
            if auth.shared_link is not None or not auth.user.is_admin:
                raise Forbidden()
            if auth.api_key is not None and "all" not in auth.api_key.permissions:
                raise Forbidden("Missing required permission: all")
        except HttpError as exc:
            return error_response(exc)
        except DatabaseUnavailable:
            seen = _recent_admins.get(_credential_fingerprint(headers, query))
            if seen is None or trio.current_time() - seen > STATUS_GRACE_SECONDS:
                return error_response(ServiceUnavailable("Database unavailable"))
            return json_response(_status_tree(runtime))
        _recent_admins[_credential_fingerprint(headers, query)] = trio.current_time()
        return json_response(_status_tree(runtime))
