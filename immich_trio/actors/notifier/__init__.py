"""The notifier: socket.io fan-out of Immich's realtime events to connected clients.

`Hub` holds the rooms and queues; `serve_engineio` speaks the protocol on one websocket;
`immich_trio.http.socketio.register_socketio` mounts it at `/api/socket.io/`.
"""

from __future__ import annotations

from immich_trio.actors.notifier.engineio import (
    Authenticator,
    CloseReason,
    Principal,
    WebSocketLike,
    serve_engineio,
)
from immich_trio.actors.notifier.hub import (
    CLIENT_QUEUE_SIZE,
    SERVER_VERSION,
    EndReason,
    Hub,
    HubStatistics,
    Subscription,
)

__all__ = [
    "CLIENT_QUEUE_SIZE",
    "SERVER_VERSION",
    "Authenticator",
    "CloseReason",
    "EndReason",
    "Hub",
    "HubStatistics",
    "Principal",
    "Subscription",
    "WebSocketLike",
    "serve_engineio",
]
