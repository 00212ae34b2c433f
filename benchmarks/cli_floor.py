"""The floor of a CLI upload: a bare Hypercorn app that answers ``@immich/cli upload``'s calls
with constants (the body of each upload read and dropped). A CLI run against it times what is
not the server's: Node's start, the crawl, SHA-1 of every file, the multipart encoding and the
loopback transfer. ``bench_requests.py`` runs it after each round of uploads to the real servers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

USER = {
    "id": "00000000-0000-4000-8000-000000000000", "email": "bench@example.com", "name": "Bench",
    "isAdmin": True, "avatarColor": "primary", "profileImagePath": "", "profileChangedAt": "2024-01-01T00:00:00.000Z",
}
API_KEY = {"id": "00000000-0000-4000-8000-000000000001", "name": "bench", "permissions": ["all"],
           "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"}
MEDIA_TYPES = {"image": [".jpg", ".jpeg", ".png", ".heic", ".webp"], "video": [".mp4", ".mov"], "sidecar": [".xmp"]}
CONSTANT_GETS: dict[str, bytes] = {
    "/": b"{}",  # the bench's readiness probe
    "/.well-known/immich": json.dumps({"api": {"endpoint": "/api"}}).encode(),
    "/api/users/me": json.dumps(USER).encode(),
    "/api/api-keys/me": json.dumps(API_KEY).encode(),
    "/api/server/media-types": json.dumps(MEDIA_TYPES).encode(),
}


async def _body(receive: Any) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _json(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


async def cli_floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path in CONSTANT_GETS:
        await _json(send, 200, CONSTANT_GETS[path])
    elif method == "POST" and path == "/api/assets/bulk-upload-check":
        assets = json.loads(await _body(receive))["assets"]
        results = [{"id": asset["id"], "action": "accept"} for asset in assets]
        await _json(send, 200, json.dumps({"results": results}).encode())
    elif method == "POST" and path == "/api/assets":
        await _body(receive)
        await _json(send, 201, json.dumps({"id": str(uuid.uuid4()), "status": "created"}).encode())
    else:
        await _json(send, 404, b'{"message":"not here"}')
