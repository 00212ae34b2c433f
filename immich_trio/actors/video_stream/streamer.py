"""The HLS streamer: owns the live streaming sessions of this process and the transcode runs
that produce their segments (Immich's HlsService bookkeeping and TranscodingService in one)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from uuid import UUID

import attrs
import trio

from immich_trio import sysconfig
from immich_trio.actors.video_stream.encoder import EncodeSettings, SegmentRun, run_in_worker_thread
from immich_trio.actors.video_stream.expiry import remove_session_folder
from immich_trio.actors.video_stream.messages import (
    PlaylistRequested,
    SegmentRequested,
    SegmentTicket,
    SegmentWait,
    SessionEnded,
    SessionOpened,
    StreamerMsg,
    SweepIdle,
    TranscodeFailed,
)
from immich_trio.actors.video_stream.plan import (
    INACTIVITY_SECONDS,
    LEASE_SECONDS,
    PAUSE_LEAD_SEGMENTS,
    RESUME_LEAD_SEGMENTS,
    SWEEP_INTERVAL_SECONDS,
    VARIANTS,
    segment_index,
    stream_info,
    variant_folder,
)
from immich_trio.reactor import Actor, WallClock
from immich_trio.sql import video_stream as q
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "hls-streamer"
INBOX = 16


@attrs.define(kw_only=True)
class _Run:
    run: SegmentRun
    variant_index: int
    done: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(kw_only=True)
class _Session:
    id: str
    asset_id: str
    owner_id: str
    expires_at: datetime
    last_activity: float
    # what the client asked (Immich's API-side tracking)
    last_requested: int | None = None
    last_variant: int | None = None
    # what the transcode does
    variant: int | None = None
    start_segment: int | None = None
    last_completed: int | None = None
    client_segment: int | None = None
    paused: bool = False
    current: _Run | None = None
    waits: dict[tuple[int, int], list[SegmentWait]] = attrs.field(factory=dict)


class HlsStreamer(Actor[StreamerMsg]):
    """Owns the streaming sessions this process serves and their transcode runs.

    Inbox: ``SessionOpened``, ``PlaylistRequested``, ``SegmentRequested`` (ask: answers a
    ``SegmentTicket`` at once; the HTTP handler waits on it, never the actor), ``SessionEnded``.
    A session unknown here but live in the database (another process, a restart) is adopted
    on its first request. A session has at most one transcode run, in a worker thread (as
    Immich has one ffmpeg per session; no pool of slots, which paused runs would starve). A
    run pauses when it is ``PAUSE_LEAD_SEGMENTS`` ahead of the client and resumes under
    ``RESUME_LEAD_SEGMENTS`` (backpressure). A seek outside the run, or another variant, stops
    the run (between two frames) and starts another. Every ``SWEEP_INTERVAL_SECONDS`` sessions
    idle for ``INACTIVITY_SECONDS`` are ended: run stopped, folder and row removed; all of them
    end when the actor stops (Immich's shutdown).
    Errors: a run that fails (unreadable file, missing encoder) ends its session and settles
    its waiters with the reason; the actor carries on.
    """

    inbox_capacity: ClassVar[int] = INBOX

    def __init__(
        self, pool: Pool, media: Path, *, now: WallClock | None = None, name: str = SERVICE_NAME
    ) -> None:
        super().__init__(name=name, wall_clock=now)
        self._pool = pool
        self._media = media
        self._sessions: dict[str, _Session] = {}
        self._nursery: trio.Nursery | None = None

    def extra_status(self) -> dict[str, object]:
        running = sum(1 for s in self._sessions.values() if s.current is not None)
        return {"sessions": len(self._sessions), "transcodes": running}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._sweep_forever)
            try:
                await super().run(task_status=task_status)
            finally:
                nursery.cancel_scope.cancel()  # stops every run (between two frames)
                self._nursery = None
                for session in self._sessions.values():
                    self._settle_all(session, "Session ended")
                self._sessions.clear()

    async def teardown(self) -> None:
        """On the way out, as Immich's shutdown does: every session ends (run stopped, folder
        and row removed). Bounded by ``teardown_timeout``; what is left expires."""
        for session_id in list(self._sessions):
            await self._end(session_id)

    async def handle(self, msg: StreamerMsg) -> None:
        match msg:
            case SessionOpened():
                self._sessions[msg.session_id] = _Session(
                    id=msg.session_id,
                    asset_id=msg.asset_id,
                    owner_id=msg.owner_id,
                    expires_at=msg.expires_at,
                    last_activity=trio.current_time(),
                )
            case PlaylistRequested():
                await self._prewarm(msg)
            case SegmentRequested():
                msg.reply.send(await self._segment(msg))
            case SessionEnded():
                session = await self._adopt(msg.session_id)
                if session is not None and session.asset_id == msg.asset_id:
                    await self._end(msg.session_id)
            case SweepIdle():
                await self._sweep()
            case TranscodeFailed():
                failed = self._sessions.get(msg.session_id)
                if failed is not None and failed.current is None:
                    await self._fail(failed, msg.error)

    # -- requests ---------------------------------------------------------------------------
    async def _adopt(self, session_id: str) -> _Session | None:
        if (session := self._sessions.get(session_id)) is not None:
            return session
        async with self._pool.connection() as conn:
            row = await q.live_session(conn, UUID(session_id), self.wall_clock())
        if row is None:
            return None
        session = _Session(
            id=session_id,
            asset_id=str(row["assetId"]),
            owner_id=str(row["ownerId"]),
            expires_at=row["expiresAt"],
            last_activity=trio.current_time(),
        )
        self._sessions[session_id] = session
        return session

    async def _prewarm(self, msg: PlaylistRequested) -> None:
        session = await self._adopt(msg.session_id)
        if session is None or session.last_variant == msg.variant_index:
            return
        following = None if session.last_requested is None else session.last_requested + 1
        segment = msg.hinted_segment if msg.hinted_segment is not None else following
        if segment is not None:
            await self._want(session, msg.variant_index, segment)

    async def _segment(self, msg: SegmentRequested) -> SegmentTicket:
        session = await self._adopt(msg.session_id)
        if session is None or session.asset_id != msg.asset_id:
            return SegmentTicket(path=None)
        self._track(session, msg.variant_index)
        index = segment_index(msg.filename)
        if index is None:  # init.mp4 names no segment: the hint, else the one after the last
            last = -1 if session.last_requested is None else session.last_requested
            index = msg.init_hint if msg.init_hint is not None else last + 1
        else:
            session.last_requested = index
        await self._heartbeat(session, index)
        path = (
            variant_folder(self._media, session.owner_id, session.id, msg.variant_index)
            / msg.filename
        )
        if path.exists():
            return SegmentTicket(path=path)
        wait = SegmentWait()
        session.waits.setdefault((msg.variant_index, index), []).append(wait)
        await self._want(session, msg.variant_index, index)
        return SegmentTicket(path=path, wait=wait)

    def _track(self, session: _Session, variant_index: int) -> None:
        if session.last_variant is not None and session.last_variant != variant_index:
            for (variant, _), waits in list(session.waits.items()):
                if variant == session.last_variant:
                    for wait in waits:
                        wait.settle("Variant changed")
                    del session.waits[(variant, _)]
        session.last_variant = variant_index

    async def _heartbeat(self, session: _Session, index: int) -> None:
        session.last_activity = trio.current_time()
        session.client_segment = index
        self._apply_backpressure(session)
        now = self.wall_clock()
        if session.expires_at - now < timedelta(seconds=LEASE_SECONDS / 2):
            session.expires_at = now + timedelta(seconds=LEASE_SECONDS)
            async with self._pool.connection() as conn:
                await q.extend_session(conn, UUID(session.id), session.expires_at)

    # -- transcode runs ---------------------------------------------------------------------
    async def _want(self, session: _Session, variant_index: int, index: int) -> None:
        """Immich's onSegmentRequest: keep the run that will reach ``index`` soon, else restart."""
        if session.variant is None:
            session.variant = variant_index
        if session.start_segment is None:
            session.start_segment = index
        head = (
            session.start_segment if session.last_completed is None else session.last_completed + 1
        )
        if session.variant != variant_index or index < session.start_segment or index > head + 1:
            await self._stop_run(session)
            session.variant, session.start_segment = variant_index, index
        elif session.current is not None:
            self._resume(session)
            return
        await self._start_run(session, variant_index, index)

    async def _start_run(self, session: _Session, variant_index: int, start: int) -> None:
        if not 0 <= variant_index < len(VARIANTS):
            await self._fail(session, f"Invalid variant index {variant_index}")
            return
        async with self._pool.connection() as conn:
            row = await q.stream_of_session(
                conn, UUID(session.asset_id), UUID(session.id), self.wall_clock()
            )
            ffmpeg = (await sysconfig.load(conn))["ffmpeg"]
        if row is None or self._nursery is None:
            await self._fail(session, "Asset not found or metadata not yet ready for streaming")
            return
        run = _Run(
            variant_index=variant_index,
            run=SegmentRun(
                source=Path(row["originalPath"]),
                folder=variant_folder(self._media, session.owner_id, session.id, variant_index),
                variant=VARIANTS[variant_index],
                info=stream_info(row),
                start_segment=start,
                settings=EncodeSettings(
                    preset=str(ffmpeg["preset"]),
                    threads=int(ffmpeg["threads"]),
                    bframes=int(ffmpeg["bframes"]),
                    refs=int(ffmpeg["refs"]),
                    tonemap=str(ffmpeg.get("tonemap", "hable")),
                ),
                on_segment=lambda n: None,
            ),
        )
        token = trio.lowlevel.current_trio_token()
        run.run.on_segment = lambda n: trio.from_thread.run_sync(
            self._finished, session, run, n, trio_token=token
        )
        session.current, session.last_completed, session.paused = run, None, False
        session.variant, session.start_segment = variant_index, start
        self._nursery.start_soon(self._drive, session, run)

    async def _drive(self, session: _Session, run: _Run) -> None:
        error: str | None = None
        try:
            await run_in_worker_thread(run.run)
        except Exception as exc:  # a broken file fails its session, never the actor
            log.warning(
                "%s: HLS transcode of asset %s failed: %s", self.name, session.asset_id, exc
            )
            error = f"Transcoding failed: {exc}"
        finally:
            run.done.set()
            if session.current is run:
                session.current, session.last_completed, session.paused = None, None, False
                if error is None:  # finished: what it did not make, no run is making
                    self._settle_beyond(session, run.variant_index, run.run.next_segment)
        if error is not None:  # ended through the inbox, in order with the other messages
            await self.address.send(TranscodeFailed(session_id=session.id, error=error))

    def _settle_beyond(self, session: _Session, variant_index: int, end: int) -> None:
        for key in [k for k in session.waits if k[0] == variant_index and k[1] >= end]:
            for wait in session.waits.pop(key):
                wait.settle("No such segment")

    def _finished(self, session: _Session, run: _Run, index: int) -> None:
        """A segment is on disk (called in the event loop, from the run's thread)."""
        if session.current is not run:
            return
        session.last_completed = index
        for wait in session.waits.pop((run.variant_index, index), []):
            wait.settle()
        self._apply_backpressure(session)

    def _apply_backpressure(self, session: _Session) -> None:
        if (
            session.current is None
            or session.last_completed is None
            or session.client_segment is None
        ):
            return
        lead = session.last_completed - session.client_segment
        if not session.paused and lead > PAUSE_LEAD_SEGMENTS:
            session.current.run.pause()
            session.paused = True
        elif session.paused and lead < RESUME_LEAD_SEGMENTS:
            self._resume(session)

    def _resume(self, session: _Session) -> None:
        if session.current is not None and session.paused:
            session.current.run.resume()
            session.paused = False

    async def _stop_run(self, session: _Session) -> None:
        current = session.current
        if current is None:
            return
        session.current, session.last_completed, session.paused = None, None, False
        current.run.stop()
        await current.done.wait()  # the thread leaves between two frames

    # -- ending -----------------------------------------------------------------------------
    async def _fail(self, session: _Session, error: str) -> None:
        """End the session, then tell its waiters why (so a client told sees it gone)."""
        waits = [wait for waits in session.waits.values() for wait in waits]
        session.waits.clear()
        await self._end(session.id)
        for wait in waits:
            wait.settle(error)

    def _settle_all(self, session: _Session, error: str) -> None:
        for waits in session.waits.values():
            for wait in waits:
                wait.settle(error)
        session.waits.clear()

    async def _end(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            await self._stop_run(session)
            self._settle_all(session, "Session ended")
            owner: str | None = session.owner_id
        else:
            async with self._pool.connection() as conn:
                owner = await q.session_owner(conn, UUID(session_id))
        if owner is not None:
            await remove_session_folder(self._media, owner, session_id)
        async with self._pool.connection() as conn:
            await q.delete_session(conn, UUID(session_id))

    async def _sweep_forever(self) -> None:
        while True:
            await trio.sleep(SWEEP_INTERVAL_SECONDS)
            await self.address.send(SweepIdle())

    async def _sweep(self) -> None:
        """End the sessions no request touched for ``INACTIVITY_SECONDS``."""
        cutoff = trio.current_time() - INACTIVITY_SECONDS
        for session in [s for s in self._sessions.values() if s.last_activity < cutoff]:
            log.info("%s: ending idle HLS session %s", self.name, session.id)
            await self._end(session.id)
