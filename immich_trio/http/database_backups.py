"""Tag "Database Backups (admin)": the files in ``<media>/backups`` (list, download,
upload, delete) and the start of the restore flow (admin-only rules: the route table)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from uuid import uuid4

import trio
from quart import Response

from immich_trio.actors.nightly_time import server_zone
from immich_trio.http import maintenance_token, multipart
from immich_trio.http.authentication import is_https
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.dto.generated import (
    DatabaseBackupDeleteDto,
    DatabaseBackupDto,
    DatabaseBackupListResponseDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.sql import maintenance as maintenance_q
from immich_trio.sql import users as users_q
from immich_trio.storage import backups, files

PRIVATE_WITHOUT_CACHE = "private, no-cache, no-transform"


@operation("listDatabaseBackups")
async def list_backups(ctx: Ctx) -> DatabaseBackupListResponseDto:
    found = await trio.to_thread.run_sync(backups.list_backups, ctx.runtime.settings.media_location)
    zone = str(server_zone())
    return DatabaseBackupListResponseDto(
        backups=[DatabaseBackupDto(filename=f.name, filesize=f.size, timezone=zone) for f in found]
    )


@operation("downloadDatabaseBackup")
async def download_backup(ctx: Ctx) -> Response:
    name = str(ctx.path["filename"])
    if not backups.is_valid_name(name):
        raise BadRequest(backups.INVALID_NAME)
    path = backups.folder(ctx.runtime.settings.media_location) / name
    file = FileToSend(
        path=str(path),
        content_type="application/gzip" if name.endswith(".gz") else "application/sql",
        file_name=name,
        cache_control=PRIVATE_WITHOUT_CACHE,
    )
    return await send_file(dict(ctx.request.headers), file)


@operation("deleteDatabaseBackup")
async def delete_backups(ctx: Ctx) -> None:
    dto = await ctx.body(DatabaseBackupDeleteDto)
    if not all(backups.is_valid_name(name) for name in dto.backups):
        raise BadRequest(backups.INVALID_NAME)
    await trio.to_thread.run_sync(backups.delete_backups, ctx.runtime.settings.media_location, dto.backups)


def _backup_gate(media: Path) -> multipart.FileGate:
    def gate(name: str, filename: str, fields: Mapping[str, str]) -> multipart.FileTarget | None:
        if name != "file":
            return None
        if not backups.is_valid_name(Path(filename).name):
            raise BadRequest(backups.INVALID_NAME)
        return multipart.FileTarget(path=files.staging_path(media, uuid4()))

    return gate


@operation("uploadDatabaseBackup")
async def upload_backup(ctx: Ctx) -> None:
    """Stream the ``file`` part to a staging file, then rename it, fsynced, to
    ``backups/uploaded-<name>`` (replacing one of that name): readers never see half a file."""
    media = ctx.runtime.settings.media_location
    form = await multipart.receive_form(
        multipart.body_source(ctx.request), ctx.request.headers.get("Content-Type"), _backup_gate(media)
    )
    received = form.files.get("file")
    try:
        if received is None:
            raise BadRequest("File is required")
        await received.staged.finish()
        received.staged.close()
        target = backups.folder(media) / f"{backups.UPLOADED_PREFIX}{Path(received.filename).name}"
        await trio.to_thread.run_sync(files.move_into_place, received.staged.path, target)
    except BaseException:
        form.discard()
        raise


@operation("startDatabaseRestoreFlow")
async def start_restore_flow(ctx: Ctx) -> Reply:
    """Only on a server without an admin: maintenance mode with the ``select_database_restore``
    action, and the maintenance cookie for the one who asked."""
    secret = maintenance_token.new_secret()
    async with ctx.db() as conn, conn.transaction():
        if await users_q.admin_exists(conn):
            raise BadRequest("The server already has an admin")
        await maintenance_q.set_state(
            conn,
            {"isMaintenanceMode": True, "secret": secret, "action": {"action": "select_database_restore"}},
        )
    token = maintenance_token.sign(secret, {"username": "admin"})
    return Reply(
        body=None, status=201, cookies=(maintenance_token.cookie(token, secure=is_https(ctx)),)
    )
