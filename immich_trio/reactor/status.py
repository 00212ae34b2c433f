"""Frozen status snapshots of the supervision tree, and how errors are recorded in them."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import trio

WallClock = Callable[[], datetime]
"""Source of wall-clock dates for status reports; injected so tests can pin it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ChildKind(enum.StrEnum):
    SUPERVISOR = "supervisor"
    ACTOR = "actor"
    TASK = "task"


class ChildState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"
    FAILED = "failed"


def leaf_error(error: BaseException) -> BaseException:
    """The single exception inside nested one-member groups, else ``error`` itself.

    Nurseries wrap even a lone failure in an ``ExceptionGroup``; an operator wants to read
    ``OSError: disk full``, not ``ExceptionGroup: 1 sub-exception``.
    """
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """The last error of a node: type, message, Trio time and wall-clock timestamp."""

    type: str
    message: str
    when: float
    timestamp: str

    @classmethod
    def capture(cls, error: BaseException, wall_clock: WallClock) -> ErrorInfo:
        leaf = leaf_error(error)
        return cls(
            type=type(leaf).__name__,
            message=str(leaf),
            when=trio.current_time(),
            timestamp=wall_clock().isoformat(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "when": self.when,
            "timestamp": self.timestamp,
        }


@attrs.frozen(kw_only=True)
class InboxStatistics:
    depth: int
    capacity: int
    peak: int

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "capacity": self.capacity, "peak": self.peak}


@attrs.frozen(kw_only=True)
class NodeStatus:
    """One node of the supervision tree as seen at one instant."""

    name: str
    kind: ChildKind
    state: ChildState
    restarts: int = 0
    last_error: ErrorInfo | None = None
    inbox: InboxStatistics | None = None
    handled: int = 0
    failed: int = 0
    in_flight: int = 0
    extra: Mapping[str, object] = attrs.field(factory=dict)
    children: tuple[NodeStatus, ...] = ()

    def find(self, *path: str) -> NodeStatus:
        """The descendant reached by following child names (``find("media", "thumbs")``)."""
        node = self
        for name in path:
            matches = [child for child in node.children if child.name == name]
            if not matches:
                raise KeyError(f"{node.name!r} has no child {name!r}")
            node = matches[0]
        return node

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with snake_case keys."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.value,
            "state": self.state.value,
            "restarts": self.restarts,
            "last_error": None if self.last_error is None else self.last_error.to_dict(),
            "inbox": None if self.inbox is None else self.inbox.to_dict(),
            "handled": self.handled,
            "failed": self.failed,
            "in_flight": self.in_flight,
            "extra": dict(self.extra),
        }
        if self.kind is ChildKind.SUPERVISOR:
            out["children"] = [child.to_dict() for child in self.children]
        return out


def latest_error(a: ErrorInfo | None, b: ErrorInfo | None) -> ErrorInfo | None:
    """The more recent of two recorded errors (by Trio time)."""
    if a is None or b is None:
        return a or b
    return a if a.when >= b.when else b
