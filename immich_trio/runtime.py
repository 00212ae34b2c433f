"""What a running server hands its HTTP layer: settings, the pool, clocks and the actors' addresses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from immich_trio.config import Settings

if TYPE_CHECKING:
    from immich_trio.sql.pool import Pool


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.define(kw_only=True)
class Runtime:
    settings: Settings
    pool: Pool
    # Wall-clock dates come from here, so tests can inject a clock.
    now: Callable[[], datetime] = utc_now
    # Returns the supervision tree as a JSON-ready dict (None before the tree is up).
    status: Callable[[], dict[str, Any]] | None = None
    # The notifier hub (socket.io fan-out), when running.
    hub: Any = None
    # Other long-lived services by name (dispatcher, uploader...), set by the server assembly.
    services: dict[str, Any] = attrs.field(factory=dict)
