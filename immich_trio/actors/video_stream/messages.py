"""The HLS streamer's inbox (commands from the HTTP layer and its own timer) and what it
answers a segment request with."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import attrs
import trio

from immich_trio.reactor import ReplyTo


@attrs.frozen(kw_only=True)
class SessionOpened:
    session_id: str
    asset_id: str
    owner_id: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class PlaylistRequested:
    """A media playlist was fetched: start the variant early (Immich's prewarm)."""

    session_id: str
    variant_index: int
    hinted_segment: int | None


@attrs.frozen(kw_only=True)
class SegmentRequested:
    session_id: str
    asset_id: str
    variant_index: int
    filename: str
    init_hint: int | None
    reply: ReplyTo[SegmentTicket]


@attrs.frozen(kw_only=True)
class SessionEnded:
    session_id: str
    asset_id: str


@attrs.frozen
class SweepIdle:
    """End the sessions idle for ``INACTIVITY_SECONDS`` (sent by the actor's own timer)."""


@attrs.frozen(kw_only=True)
class TranscodeFailed:
    """A run of the session failed (sent by the actor to itself, to end the session in turn)."""

    session_id: str
    error: str


StreamerMsg = (
    SessionOpened
    | PlaylistRequested
    | SegmentRequested
    | SessionEnded
    | SweepIdle
    | TranscodeFailed
)


@attrs.define
class SegmentWait:
    """Set once the segment is on disk, or with ``error`` once it never will be."""

    event: trio.Event = attrs.field(factory=trio.Event)
    error: str | None = None

    def settle(self, error: str | None = None) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


@attrs.frozen(kw_only=True)
class SegmentTicket:
    """The answer to ``SegmentRequested``: where the file is, and what to wait for (None:
    it is there already; ``found`` False: no such session)."""

    path: Path | None
    wait: SegmentWait | None = None

    @property
    def found(self) -> bool:
        return self.path is not None
