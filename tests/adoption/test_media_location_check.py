"""At start, stored paths that name another media folder are reported with the fix."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import trio

from immich_trio.reactor.child import Unrecoverable
from immich_trio.sql import system_metadata
from immich_trio.sql.driver import connect
from immich_trio.sql.media_location import change_media_location
from immich_trio.sql.pool import open_pool
from immich_trio.startup import apply_migrations
from immich_trio.storage.folder_checks import FOLDERS
from tests.adoption.conftest import FIXTURE

CAP = 30


async def test_start_reports_a_moved_media_folder(
    adopted_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "media"
    shutil.copytree(FIXTURE / "media", media)
    with trio.fail_after(CAP):
        async with open_pool(adopted_url) as pool:
            with caplog.at_level(logging.ERROR, logger="immich_trio"):
                await apply_migrations(pool, media)
            [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
            message = record.getMessage()
            assert "/data" in message and str(media) in message
            assert f"immich-trio change-media-location --from /data --to {media}" in message

            caplog.clear()
            conn = await connect(adopted_url, autocommit=True)
            try:
                await change_media_location(conn, "/data", str(media))
            finally:
                await conn.close()
            with caplog.at_level(logging.ERROR, logger="immich_trio"):
                await apply_migrations(pool, media)
            assert not [r for r in caplog.records if r.levelno == logging.ERROR]


async def test_a_folder_immich_checked_must_still_hold_its_marker(adopted_url: str, tmp_path: Path) -> None:
    """Immich's folder checks: the adopted install checked every folder, so a media folder
    without its markers (a volume not mounted) stops the start with Immich's message."""
    media = tmp_path / "media"
    shutil.copytree(FIXTURE / "media", media)
    (media / "thumbs" / ".immich").unlink()
    with trio.fail_after(CAP):
        async with open_pool(adopted_url) as pool:
            with pytest.raises(Unrecoverable) as info:
                await apply_migrations(pool, media)
            assert str(info.value) == (
                'Failed to read "<UPLOAD_LOCATION>/thumbs/.immich - Please see'
                ' https://immich.app/docs/administration/system-integrity#folder-checks for more information."'
            )
            # IMMICH_IGNORE_MOUNT_CHECK_ERRORS: logged, the start goes on
            await apply_migrations(pool, media, ignore_mount_check_errors=True)


async def test_first_start_writes_the_markers_and_remembers_them(fresh_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    with trio.fail_after(CAP):
        async with open_pool(fresh_url) as pool:
            await apply_migrations(pool, media)
            async with pool.connection() as conn:
                flags = await system_metadata.get(conn, system_metadata.SYSTEM_FLAGS)
    assert flags == {"mountChecks": dict.fromkeys(FOLDERS, True)}
    assert all((media / folder / ".immich").read_bytes().isdigit() for folder in FOLDERS)
    (media / "upload" / ".immich").unlink()
    with trio.fail_after(CAP):
        async with open_pool(fresh_url) as pool:
            with pytest.raises(Unrecoverable, match=r"upload/\.immich"):
                await apply_migrations(pool, media)
