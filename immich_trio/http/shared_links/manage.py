"""Shared links, the owner's side: create, list, get, update, delete (Immich's SharedLinkService).

A link is found among the caller's own links only; any other id is Immich's 400
``Shared link not found``. A taken slug is 400 ``Failed to save shared link``.
"""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, from_wire
from immich_trio.http.dto.generated import (
    SharedLinkCreateDto,
    SharedLinkEditDto,
    SharedLinkResponseDto,
)
from immich_trio.http.dto.shared_links import shared_link_dto
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import shared_links as q

KEY_BYTES = 50
LINK_NOT_FOUND = "Shared link not found"
SLUG_TAKEN = "Failed to save shared link"


async def find_link(conn: Any, user_id: UUID, link_id: UUID) -> dict[str, Any]:
    """Immich's findOrFail: one of the caller's links, or 400."""
    row = await q.get_link(conn, user_id, link_id)
    if row is None:
        raise BadRequest(LINK_NOT_FOUND)
    return row


def _given(value: Any) -> Any:
    return None if value is OMIT else value


@operation("createSharedLink")
async def create_shared_link(ctx: Ctx) -> SharedLinkResponseDto:
    dto = await ctx.body(SharedLinkCreateDto)
    asset_ids: list[UUID] = []
    album_id: UUID | None = None
    async with ctx.db() as conn, conn.transaction():
        if dto.type == "ALBUM":
            if dto.album_id is OMIT:
                raise BadRequest("Invalid albumId")
            album_id = dto.album_id
            await require_access(ctx, conn, "album.share", [album_id])
        else:
            if dto.asset_ids is OMIT or not dto.asset_ids:
                raise BadRequest("Invalid assetIds")
            asset_ids = list(dict.fromkeys(dto.asset_ids))
            await require_access(ctx, conn, "asset.share", asset_ids)
        show = dto.show_metadata is OMIT or dto.show_metadata
        try:
            link_id = await q.create_link(
                conn, key=secrets.token_bytes(KEY_BYTES), user_id=ctx.user.id, type=dto.type,
                album_id=album_id, asset_ids=asset_ids, description=_given(dto.description) or None,
                password=_given(dto.password), expires_at=_given(dto.expires_at),
                allow_upload=dto.allow_upload is OMIT or dto.allow_upload,
                allow_download=bool(show) and (dto.allow_download is OMIT or dto.allow_download),
                show_exif=bool(show), slug=_given(dto.slug) or None,
            )
        except q.SlugTaken:
            raise BadRequest(SLUG_TAKEN) from None
        row = await q.written_link(conn, link_id)
    return shared_link_dto(row)


@operation("getAllSharedLinks")
async def get_all_shared_links(ctx: Ctx) -> list[SharedLinkResponseDto]:
    query = ctx.query
    album_id = UUID(str(query["albumId"])) if query.get("albumId") else None
    link_id = UUID(str(query["id"])) if query.get("id") else None
    async with ctx.db() as conn:
        rows = await q.list_links(conn, ctx.user.id, album_id=album_id, link_id=link_id)
    return [shared_link_dto(r) for r in rows]


@operation("getSharedLinkById")
async def get_shared_link_by_id(ctx: Ctx) -> SharedLinkResponseDto:
    async with ctx.db() as conn:
        row = await find_link(conn, ctx.user.id, UUID(str(ctx.path["id"])))
    return shared_link_dto(row)


_COLUMNS = {
    "description": "description", "password": "password", "allowUpload": "allowUpload",
    "allowDownload": "allowDownload", "showMetadata": "showExif",
}


@operation("updateSharedLink")
async def update_shared_link(ctx: Ctx) -> SharedLinkResponseDto:
    link_id = UUID(str(ctx.path["id"]))
    raw = await ctx.json()
    dto: SharedLinkEditDto = from_wire(SharedLinkEditDto, raw)
    values: dict[str, Any] = {column: raw[key] for key, column in _COLUMNS.items() if key in raw}
    if "expiresAt" in raw:
        values["expiresAt"] = dto.expires_at or None
    elif raw.get("changeExpiryTime") is True:
        values["expiresAt"] = None  # clients that cannot send null
    values["slug"] = _given(dto.slug) or None  # Immich writes the slug on every update
    async with ctx.db() as conn, conn.transaction():
        await find_link(conn, ctx.user.id, link_id)
        try:
            await q.update_link(conn, link_id, values)
        except q.SlugTaken:
            raise BadRequest(SLUG_TAKEN) from None
        row = await q.written_link(conn, link_id)
    return shared_link_dto(row)


@operation("removeSharedLink")
async def remove_shared_link(ctx: Ctx) -> None:
    link_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await find_link(conn, ctx.user.id, link_id)
        await q.delete_link(conn, link_id)
