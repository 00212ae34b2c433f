"""The socket.io side of the HTTP front: the endpoint at ``/api/socket.io/`` and the relay
that turns committed events (NOTIFY) into frames for this process's sockets.

The only HTTP modules that touch the notifier's hub; handlers publish events through
``sql/events.py`` inside their transaction instead (a static test keeps it so).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from immich_trio.http import credentials
from immich_trio.http.socketio.endpoint import register_socketio
from immich_trio.http.socketio.relay import EventRelay

if TYPE_CHECKING:
    from quart_trio import QuartTrio

    from immich_trio.runtime import Runtime

__all__ = ["EventRelay", "mount_socketio", "register_socketio"]


def mount_socketio(app: QuartTrio, runtime: Runtime) -> None:
    """The endpoint on ``app``, serving ``runtime.hub``'s rooms to authenticated sockets."""
    register_socketio(app, hub=runtime.hub, authenticate=partial(credentials.authenticate_socket, runtime))
