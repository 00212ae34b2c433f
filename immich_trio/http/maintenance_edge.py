"""The request edge while maintenance mode is on.

Immich restarts into a maintenance worker that serves only its maintenance controller; every
other route is unknown there (NestJS's 404 ``Cannot <METHOD> <path>``). Here the same server
keeps running and this gate answers as that worker would: the public maintenance routes and
the server config/version pass, the backup and mode routes need the maintenance cookie
(Immich's ``MaintenanceRoute``: 401 ``Missing JWT Token`` / ``Invalid JWT Token``)."""

from __future__ import annotations

from typing import Any

from quart import Request

from immich_trio.http import maintenance_token
from immich_trio.http.credentials import parse_cookies
from immich_trio.http.errors import HttpError, Unauthorized
from immich_trio.http.spec import Operation
from immich_trio.runtime import Runtime
from immich_trio.sql import maintenance as q

OPEN = frozenset(
    {"getServerConfig", "getServerVersion", "getMaintenanceStatus", "detectPriorInstall", "maintenanceLogin"}
)
WITH_TOKEN = frozenset(
    {
        "listDatabaseBackups",
        "downloadDatabaseBackup",
        "deleteDatabaseBackup",
        "uploadDatabaseBackup",
        "setMaintenanceMode",
    }
)


class RouteUnknown(HttpError):
    """NestJS's answer for a route its app does not have."""

    status = 404

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Cannot {method} {path}")

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "error": "Not Found", "statusCode": 404}


def serves(op: Operation) -> bool:
    return op.operation_id in OPEN or op.operation_id in WITH_TOKEN


async def admit(runtime: Runtime, op: Operation, request: Request) -> None:
    """Raise the maintenance worker's answer unless ``op`` may run now (auth is skipped)."""
    if not serves(op):
        raise RouteUnknown(request.method, request.path)
    if op.operation_id in WITH_TOKEN:
        token = parse_cookies(request.headers.get("Cookie")).get(maintenance_token.COOKIE)
        if not token:
            raise Unauthorized("Missing JWT Token")
        async with runtime.pool.connection() as conn:
            state = await q.get_state(conn)
        secret = state.get("secret")
        if not isinstance(secret, str) or maintenance_token.verify(secret, token) is None:
            raise Unauthorized("Invalid JWT Token")
