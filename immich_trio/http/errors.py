"""HTTP errors with Immich's status codes and messages (behaviour.md §2)."""

from __future__ import annotations

import re
from typing import Any


class HttpError(Exception):
    """An error answered as ``{"message": ...}`` (plus ``errors`` for validation)."""

    status = 500
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.errors = errors
        super().__init__(self.message)

    def with_status(self, status: int) -> HttpError:
        self.status = status
        return self

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class BadRequest(HttpError):
    status = 400
    default_message = "Bad Request"


class Unauthorized(HttpError):
    status = 401
    default_message = "Unauthorized"


class Forbidden(HttpError):
    status = 403
    default_message = "Forbidden"


class NotFound(HttpError):
    status = 404
    default_message = "Not Found"


class Conflict(HttpError):
    status = 409
    default_message = "Conflict"


class PayloadTooLarge(HttpError):
    status = 413
    default_message = "Payload Too Large"


class NotImplementedYet(HttpError):
    status = 501

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"Not implemented: {operation_id}")


class ServiceUnavailable(HttpError):
    status = 503
    default_message = "Service Unavailable"


class ValidationFailed(BadRequest):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("Validation failed", errors=errors)


def no_access(permission: str) -> BadRequest:
    """Immich's resource-level access error; unknown ids give the same answer."""
    return BadRequest(f"Not found or no {permission} access")


def failed_message(handler_name: str) -> str:
    """``getAssetInfo``/``get_asset_info`` -> ``Failed to get asset info`` (NestJS style)."""
    if "_" in handler_name:
        words = [w for w in handler_name.split("_") if w]
    else:
        words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", handler_name)
    return "Failed to " + " ".join(w.lower() for w in words)
