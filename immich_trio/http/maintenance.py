"""Tag "Maintenance (admin)": the mode itself (status, switch, login) and prior-install
detection. Outside maintenance mode they answer as Immich's API server; inside it as its
maintenance worker (``http/maintenance_edge.py`` decides which routes run then)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import trio

from immich_trio.http import maintenance_token
from immich_trio.http.authentication import is_https
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.credentials import parse_cookies
from immich_trio.http.dto import OMIT
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
async def get_status(ctx: Ctx) -> MaintenanceStatusResponseDto:
    async with ctx.db() as conn:
        state = await q.get_state(conn)
    if not state.get("isMaintenanceMode"):
        return MaintenanceStatusResponseDto(active=False, action="end")
    action = state.get("action") or {}
    error = state.get("error")
    if error and _authorised(state, _token_from(ctx)) is None:
        error = "Something went wrong, see logs!"
    return MaintenanceStatusResponseDto(
        active=True, action=action.get("action") or "start", error=error if error else OMIT
    )


@operation("setMaintenanceMode")
async def set_mode(ctx: Ctx) -> Reply | None:
    """Outside maintenance: any action but ``end`` turns it on (a new secret; the caller gets
    the maintenance cookie). Inside it (maintenance cookie checked at the edge): ``end``
    turns it off, ``start``/``select_database_restore`` record the action."""
    dto = await ctx.body(SetMaintenanceModeDto)
    async with ctx.db() as conn, conn.transaction():
        state = await q.get_state(conn)
        if state.get("isMaintenanceMode"):
            if dto.action == "end":
                await q.set_state(conn, {"isMaintenanceMode": False})
                ctx.runtime.maintenance.active = False
                return None
            if dto.action == "restore_database":
                raise BadRequest("Database restore is not available")
            await q.set_state(conn, {**state, "action": {"action": dto.action}})
            return None
        if dto.action == "end":
            return None
        secret = maintenance_token.new_secret()
        action: dict[str, Any] = {"action": dto.action}
        if dto.restore_backup_filename is not OMIT:
            action["restoreBackupFilename"] = dto.restore_backup_filename
        await q.set_state(conn, {"isMaintenanceMode": True, "secret": secret, "action": action})
    ctx.runtime.maintenance.active = True
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
