"""The ``HlsSessionCleanup`` job's work: sessions whose lease ran out (their player went away
without ending them, or the server stopped) lose their segment folder, then their row."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path

import trio

from immich_trio.actors.video_stream.plan import session_folder
from immich_trio.sql import video_stream as q
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)


async def remove_session_folder(media: Path, owner_id: str, session_id: str) -> None:
    folder = session_folder(media, owner_id, session_id)
    await trio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


async def remove_expired_sessions(pool: Pool, media: Path | None, now: datetime) -> int:
    """Folders first, rows after: a crash between the two leaves a row the next run finds."""
    async with pool.connection() as conn:
        expired = await q.expired_sessions(conn, now)
    for session_id, owner_id in expired:
        if media is not None:
            await remove_session_folder(media, owner_id, session_id)
    if expired:
        async with pool.connection() as conn:
            await q.delete_sessions(conn, [session_id for session_id, _ in expired])
        log.info("removed %d expired HLS sessions", len(expired))
    return len(expired)
