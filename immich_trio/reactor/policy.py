"""Restart policies: when a child is restarted, how long to wait, and when to give up."""

from __future__ import annotations

import enum

import attrs

DEFAULT_BACKOFF_INITIAL = 0.1
DEFAULT_BACKOFF_FACTOR = 2.0
DEFAULT_BACKOFF_CAP = 30.0
DEFAULT_MAX_RESTARTS = 5
DEFAULT_RESTART_WINDOW = 60.0
DEFAULT_SHUTDOWN_GRACE = 10.0
"""Seconds ``Supervisor.shutdown`` waits for children to stop before cancelling them."""


class Restart(enum.StrEnum):
    """What to do when a child's run ends (Erlang/OTP vocabulary)."""

    PERMANENT = "permanent"  # always restart, even after a normal return
    TRANSIENT = "transient"  # restart only after an error
    TEMPORARY = "temporary"  # never restart


@attrs.frozen(kw_only=True)
class Backoff:
    """Exponential delay before restart number ``n`` (0-based): ``initial * factor**n``, capped."""

    initial: float = DEFAULT_BACKOFF_INITIAL
    factor: float = DEFAULT_BACKOFF_FACTOR
    cap: float = DEFAULT_BACKOFF_CAP

    def __attrs_post_init__(self) -> None:
        if self.initial < 0 or self.factor < 1 or self.cap < self.initial:
            raise ValueError(f"invalid backoff {self!r}")

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.initial * self.factor**attempt))


@attrs.frozen(kw_only=True)
class RestartLimit:
    """Escalate when a child needs more than ``max_restarts`` restarts within ``window`` s.

    The number of restarts still inside the window is also the backoff attempt, so delays
    grow while a child keeps failing and fall back once it has stayed up for a window.
    """

    max_restarts: int = DEFAULT_MAX_RESTARTS
    window: float = DEFAULT_RESTART_WINDOW

    def __attrs_post_init__(self) -> None:
        if self.max_restarts < 0 or self.window <= 0:
            raise ValueError(f"invalid restart limit {self!r}")
