"""Tag "Maintenance (admin)": the mode itself (status, switch, login) and prior-install
detection. Outside maintenance mode they answer as Immich's API server; inside it as its
maintenance worker (``http/maintenance_edge.py`` decides which routes run then)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import trio

from immich_trio.actors.maintenance_restore import RestoreDatabase
from immich_trio.http import maintenance_token
from immich_trio.http.authentication import is_https
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.credentials import parse_cookies
from immich_trio.http.dto.generated import (
    MaintenanceAuthDto,
    MaintenanceDetectInstallResponseDto,
    MaintenanceDetectInstallStorageFolderDto,
    MaintenanceLoginDto,
    MaintenanceStatusResponseDto,
    SetMaintenanceModeDto,
    StorageFolder,
)
from immich_trio.http.errors import BadRequest, Unauthorized
from immich_trio.http.registry import operation
from immich_trio.sql import maintenance as q
from immich_trio.storage import backups

FOLDERS: tuple[StorageFolder, ...] = ("encoded-video", "library", "upload", "profile", "thumbs", "backups")
"""Immich's ``StorageFolder`` values, in its order."""
ENTRY_MARKER = ".immich"


def _token_from(ctx: Ctx) -> str | None:
    return parse_cookies(ctx.request.headers.get("Cookie")).get(maintenance_token.COOKIE)


def _authorised(state: dict[str, Any], token: str | None) -> dict[str, Any] | None:
    secret = state.get("secret")
    if not token or not isinstance(secret, str):
        return None
    return maintenance_token.verify(secret, token)


@operation("getMaintenanceStatus")
async def get_status(ctx: Ctx) -> MaintenanceStatusResponseDto | dict[str, Any]:
    async with ctx.db() as conn:
        state = await q.get_state(conn)
    if not state.get("isMaintenanceMode"):
        return MaintenanceStatusResponseDto(active=False, action="end")
    action = state.get("action") or {}
    status: dict[str, Any] = {"active": True, "action": action.get("action") or "start"}
    # The restorer's task, progress (percent) and error, as Immich's worker reports them.
    status |= {k: state[k] for k in ("task", "progress", "error") if state.get(k) is not None}
    if status.get("error") and _authorised(state, _token_from(ctx)) is None:
        status["error"] = "Something went wrong, see logs!"
    return status


def _restore_filename(dto: SetMaintenanceModeDto) -> str:
    name = dto.restore_backup_filename
    if not isinstance(name, str) or not backups.is_valid_name(name):
        raise BadRequest(backups.INVALID_NAME)
    return name


def _start_restore(ctx: Ctx, filename: str) -> None:
    """Hand the restore to this process's restorer (after the state is committed)."""
    restorer = ctx.runtime.restorer
    if restorer is None:
        raise BadRequest("Database restore is not available")
    try:
        restorer.send_nowait(RestoreDatabase(filename=filename))
    except trio.WouldBlock:
        raise BadRequest("A database restore is already running") from None


@operation("setMaintenanceMode")
async def set_mode(ctx: Ctx) -> Reply | None:
    """Outside maintenance: any action but ``end`` turns it on (a new secret; the caller gets
    the maintenance cookie). Inside it (maintenance cookie checked at the edge): ``end``
    turns it off, ``start``/``select_database_restore`` record the action. Either way
    ``restore_database`` then hands the restore to this process's restorer."""
    dto = await ctx.body(SetMaintenanceModeDto)
    restore = _restore_filename(dto) if dto.action == "restore_database" else None
    if restore is not None and ctx.runtime.restorer is None:
        raise BadRequest("Database restore is not available")
    action: dict[str, Any] = {"action": dto.action}
    if restore is not None:
        action["restoreBackupFilename"] = restore
    secret: str | None = None
    async with ctx.db() as conn, conn.transaction():
        state = await q.get_state(conn)
        if state.get("isMaintenanceMode"):
            if dto.action == "end":
                await q.set_state(conn, {"isMaintenanceMode": False})
                ctx.runtime.maintenance.active = False
                return None
            kept = {k: v for k, v in state.items() if k not in ("task", "progress", "error")}
            await q.set_state(conn, {**kept, "action": action})
        elif dto.action == "end":
            return None
        else:
            secret = maintenance_token.new_secret()
            await q.set_state(conn, {"isMaintenanceMode": True, "secret": secret, "action": action})
    ctx.runtime.maintenance.active = True
    if restore is not None:
        _start_restore(ctx, restore)
    if secret is None:
        return None
    token = maintenance_token.sign(secret, {"username": ctx.user.name})
    return Reply(body=None, cookies=(maintenance_token.cookie(token, secure=is_https(ctx)),))


@operation("maintenanceLogin")
async def login(ctx: Ctx) -> Reply:
    dto = await ctx.body(MaintenanceLoginDto)
    async with ctx.db() as conn:
        state = await q.get_state(conn)
    if not state.get("isMaintenanceMode"):
        raise BadRequest("Not in maintenance mode")
    token = dto.token if isinstance(dto.token, str) else _token_from(ctx)
    if not token:
        raise Unauthorized("Missing JWT Token")
    payload = _authorised(state, token)
    if payload is None:
        raise Unauthorized("Invalid JWT Token")
    body = MaintenanceAuthDto(username=str(payload.get("username", "")))
    return Reply(body=body, cookies=(maintenance_token.cookie(token, secure=is_https(ctx)),))


def _inspect(path: Path) -> tuple[int, bool, bool]:
    """(files, readable, writable) of one folder: the files in it, the ``.immich`` marker not
    counted; a missing folder is all zero/false."""
    readable = os.access(path, os.R_OK)
    writable = os.access(path, os.W_OK)
    count = 0
    if readable:
        try:
            with os.scandir(path) as entries:
                count = sum(1 for e in entries if e.name != ENTRY_MARKER)
        except OSError:
            readable = False
    return count, readable, writable


@operation("detectPriorInstall")
async def detect_prior_install(ctx: Ctx) -> MaintenanceDetectInstallResponseDto:
    media = ctx.runtime.settings.media_location
    found = []
    for folder in FOLDERS:
        files, readable, writable = await trio.to_thread.run_sync(_inspect, media / folder)
        found.append(
            MaintenanceDetectInstallStorageFolderDto(files=files, folder=folder, readable=readable, writable=writable)
        )
    return MaintenanceDetectInstallResponseDto(storage=found)
