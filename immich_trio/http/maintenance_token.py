"""The maintenance login token: an HS256 JWT over ``{"username": ...}`` signed with the
secret kept in the maintenance state, carried in the ``immich_maintenance_token`` cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from typing import Any

COOKIE = "immich_maintenance_token"
_ALPHABET = string.ascii_letters + string.digits


def new_secret() -> str:
    """128 word characters, as Immich generates."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(128))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, payload: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def verify(secret: str, token: str) -> dict[str, Any] | None:
    """The payload of a token signed with ``secret``, or None."""
    try:
        head, body, mac = token.split(".")
        expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        if json.loads(_unb64(head)).get("alg") != "HS256":
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError, AttributeError):
        return None
    return payload if isinstance(payload, dict) else None


def cookie(token: str, *, secure: bool) -> str:
    return f"{COOKIE}={token}; Path=/; HttpOnly{'; Secure' if secure else ''}; SameSite=Lax"
