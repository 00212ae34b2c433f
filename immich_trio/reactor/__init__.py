"""The actor runtime: typed addresses over bounded inboxes, actors, supervisors, status.

It knows nothing about photos and imports nothing else from ``immich_trio``.
"""

from __future__ import annotations

from .actor import DEFAULT_TEARDOWN_TIMEOUT, Actor, ActorStatistics
from .address import DEFAULT_INBOX_CAPACITY, Address, AskFailed, Inbox, ReplyTo
from .child import SupervisorEscalation, TaskFunction, Unrecoverable
from .policy import (
    DEFAULT_BACKOFF_CAP,
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_MAX_RESTARTS,
    DEFAULT_RESTART_WINDOW,
    DEFAULT_SHUTDOWN_GRACE,
    Backoff,
    Restart,
    RestartLimit,
)
from .status import (
    ChildKind,
    ChildState,
    ErrorInfo,
    InboxStatistics,
    NodeStatus,
    WallClock,
    utc_now,
)
from .supervisor import Supervisor

__all__ = [
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_BACKOFF_INITIAL",
    "DEFAULT_INBOX_CAPACITY",
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_RESTART_WINDOW",
    "DEFAULT_SHUTDOWN_GRACE",
    "DEFAULT_TEARDOWN_TIMEOUT",
    "Actor",
    "ActorStatistics",
    "Address",
    "AskFailed",
    "Backoff",
    "ChildKind",
    "ChildState",
    "ErrorInfo",
    "Inbox",
    "InboxStatistics",
    "NodeStatus",
    "ReplyTo",
    "Restart",
    "RestartLimit",
    "Supervisor",
    "SupervisorEscalation",
    "TaskFunction",
    "Unrecoverable",
    "WallClock",
    "utc_now",
]
