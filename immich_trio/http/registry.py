"""Binding operation handlers to the spec's operationIds.

A tag module declares ``@operation("getMyUser")`` on ``async def handler(ctx) -> ...``;
method, path and credentials come from the spec, so a handler cannot drift from the contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from immich_trio.http.context import Ctx

Handler = Callable[[Ctx], Awaitable[Any]]

_HANDLERS: dict[str, Handler] = {}


def operation(operation_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if operation_id in _HANDLERS:
            raise RuntimeError(f"operation {operation_id} registered twice")
        _HANDLERS[operation_id] = fn
        return fn

    return register


def handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)
