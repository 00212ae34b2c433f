"""What a server does once before it serves: our migrations (refusing another Immich version),
the core workflow plugin's rows, the media-location check, and Immich's folder checks."""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from immich_trio import IMMICH_VERSION_STRING
from immich_trio.plugins.manifest import core_manifest
from immich_trio.reactor import Unrecoverable
from immich_trio.sql import plugins as plugins_sql
from immich_trio.sql import server as server_sql
from immich_trio.sql import system_metadata
from immich_trio.sql.immich_database import UnsupportedImmichDatabase
from immich_trio.sql.media_location import location_mismatch
from immich_trio.sql.migrate import migrate
from immich_trio.sql.pool import Pool
from immich_trio.storage.folder_checks import FolderCheckFailed, check_folders

log = logging.getLogger("immich_trio")


async def apply_migrations(
    pool: Pool,
    media_location: Path,
    *,
    ignore_mount_check_errors: bool = False,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Migrate, say (as Immich does at start) when the stored paths name another folder, then
    run Immich's folder checks (``storage/folder_checks.py``)."""
    async with pool.connection() as conn:
        try:
            applied = await migrate(conn)
        except UnsupportedImmichDatabase as exc:
            # Another Immich version's schema stays so however often we retry: stop the server.
            raise Unrecoverable(str(exc)) from exc
        await server_sql.record_version(conn, IMMICH_VERSION_STRING)
        await plugins_sql.import_manifest(conn, core_manifest())
        mismatch = await location_mismatch(conn, str(media_location))
    if mismatch is not None:
        log.error("%s", mismatch)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    await _check_media_folders(pool, media_location, ignore_errors=ignore_mount_check_errors)
    task_status.started()


async def _check_media_folders(pool: Pool, media: Path, *, ignore_errors: bool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await system_metadata.lock_system_flags(conn)
        flags = await system_metadata.get(conn, system_metadata.SYSTEM_FLAGS) or {}
        checked = flags.get("mountChecks") or {}
        try:
            now_checked = await trio.to_thread.run_sync(check_folders, media, checked)
        except FolderCheckFailed as exc:
            if not ignore_errors:
                # An unmounted or read-only volume stays so however often we retry.
                raise Unrecoverable(str(exc)) from exc
            log.error("%s", exc)
            log.warning("Ignoring mount folder errors")
            return
        if now_checked != checked:
            await system_metadata.set_value(
                conn, system_metadata.SYSTEM_FLAGS, {**flags, "mountChecks": now_checked}
            )
