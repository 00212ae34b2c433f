"""At start, stored paths that name another media folder are reported with the fix."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from immich_trio.sql.driver import connect
from immich_trio.sql.media_location import change_media_location
from immich_trio.sql.pool import open_pool
from immich_trio.supervision_tree import apply_migrations

CAP = 30


async def test_start_reports_a_moved_media_folder(
    adopted_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = str(tmp_path / "media")
    with trio.fail_after(CAP):
        async with open_pool(adopted_url) as pool:
            with caplog.at_level(logging.ERROR, logger="immich_trio"):
                await apply_migrations(pool, media)
            [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
            message = record.getMessage()
            assert "/data" in message and media in message
            assert f"immich-trio change-media-location --from /data --to {media}" in message

            caplog.clear()
            conn = await connect(adopted_url, autocommit=True)
            try:
                await change_media_location(conn, "/data", media)
            finally:
                await conn.close()
            with caplog.at_level(logging.ERROR, logger="immich_trio"):
                await apply_migrations(pool, media)
            assert not [r for r in caplog.records if r.levelno == logging.ERROR]
