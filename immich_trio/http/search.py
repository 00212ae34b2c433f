"""The Search tag (without ML): metadata search, statistics, random, large assets.

Every search covers the caller's assets and those of partners who share with them and are
shown in their timeline (Immich's ``getUserIdsToSearch``); a partner's assets show only as far
as a partner may see them (their timeline). Locked assets need ``visibility=locked`` and an
elevated session; then only the caller's own are searched. A shared link searches only inside
its album (Immich requires an ``albumIds`` filter then). Places, cities, suggestions and
explore are in ``search_places.py``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import attrs

from immich_trio.http.access import require_access, require_elevated_permission, shared_link_grant
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto import search as _search_key_order  # noqa: F401
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import (
    AssetResponseDto,
    MetadataSearchDto,
    RandomSearchDto,
    SearchAlbumResponseDto,
    SearchAssetResponseDto,
    SearchResponseDto,
    SearchStatisticsResponseDto,
    StatisticsSearchDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import search as q
from immich_trio.sql import timeline as timeline_q

DEFAULT_SIZE = 250
SHARED_LINK_NEEDS_ALBUM = "Shared link access is only allowed in combination with an albumIds filter"
_FLAGS = ("is_favorite", "is_offline", "is_encoded", "is_motion")


def _present(dto: Any) -> dict[str, Any]:
    """The fields of a request DTO that the client sent (``OMIT`` left out)."""
    return {k: v for k, v in attrs.asdict(dto, recurse=False).items() if v is not OMIT}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def _uuids(values: Sequence[Any] | None) -> tuple[UUID, ...]:
    return tuple(v if isinstance(v, UUID) else UUID(str(v)) for v in values or ())


def _checksum(text: str) -> bytes:
    """Immich reads a 28-character checksum as base64, anything else as hex."""
    try:
        if len(text) == 28:
            return base64.b64decode(text)
        return bytes.fromhex(text)
    except (ValueError, binascii.Error):
        return b"\x00" * 21  # what no SHA-1 equals: the search matches nothing


async def search_filter(ctx: Ctx, conn: Any, fields: Mapping[str, Any]) -> q.AssetSearch:
    """The caller's ``AssetSearch`` for the present fields of a search DTO (snake_case keys)."""
    me = ctx.user.id
    visibility = fields.get("visibility")
    if visibility == "locked":
        require_elevated_permission(ctx)
    album_ids = _uuids(fields.get("album_ids"))
    owners: tuple[UUID, ...]
    if shared_link_grant(ctx) is not None:
        if not album_ids:
            raise BadRequest(SHARED_LINK_NEEDS_ALBUM)
        await require_access(ctx, conn, "album.read", album_ids)
        owners = ()
    elif visibility == "locked":
        owners = (me,)
    else:
        partners = await timeline_q.timeline_partner_ids(conn, me)
        owners = (me, *(p for p in partners if p != me))
    tag_ids = fields.get("tag_ids", ())
    library_id = fields.get("library_id")
    return q.AssetSearch(
        caller_id=me,
        owner_ids=owners,
        include_locked=ctx.auth is not None and ctx.auth.elevated and shared_link_grant(ctx) is None,
        visibility=visibility,
        dates={k: _as_datetime(fields[k]) for k in q.DATE_FILTERS if fields.get(k) is not None},
        exif={k: fields[k] for k in q.EXIF_FILTERS if k in fields},
        checksum=_checksum(fields["checksum"]) if fields.get("checksum") else None,
        asset_id=fields.get("id"),
        library_id=library_id if library_id else None,
        type=fields.get("type"),
        **{k: fields.get(k) for k in _FLAGS},
        is_not_in_album=bool(fields.get("is_not_in_album")),
        with_stacked=fields.get("with_stacked"),
        with_deleted=bool(fields.get("with_deleted")),
        with_exif=bool(fields.get("with_exif")),
        album_ids=album_ids,
        tag_ids=None if tag_ids is None else _uuids(tag_ids),
        person_ids=_uuids(fields.get("person_ids")),
        original_file_name=fields.get("original_file_name"),
        original_path=fields.get("original_path"),
        description=fields.get("description"),
        encoded_video_path=fields.get("encoded_video_path"),
        ocr=fields.get("ocr"),
        order=cast(Any, fields.get("order") or "desc"),
    )


def search_asset_dto(row: Mapping[str, Any], caller_id: UUID) -> AssetResponseDto:
    exif = row.get("exifInfo", OMIT)
    return asset_dto(row, caller_id=caller_id, exif=exif)


@operation("searchAssets")
async def search_assets(ctx: Ctx) -> SearchResponseDto:
    fields = _present(await ctx.body(MetadataSearchDto))
    page = int(fields.get("page") or 1)
    size = int(fields.get("size") or DEFAULT_SIZE)
    async with ctx.db() as conn:
        f = await search_filter(ctx, conn, fields)
        rows, has_next = await q.search_metadata(conn, f, page=page, size=size)
    items = [search_asset_dto(row, ctx.user.id) for row in rows]
    return SearchResponseDto(
        albums=SearchAlbumResponseDto(total=0, count=0, items=[], facets=[]),
        assets=SearchAssetResponseDto(
            total=len(items),
            count=len(items),
            items=items,
            facets=[],
            next_page=str(page + 1) if has_next else None,
        ),
    )


@operation("searchAssetStatistics")
async def search_asset_statistics(ctx: Ctx) -> SearchStatisticsResponseDto:
    fields = _present(await ctx.body(StatisticsSearchDto))
    async with ctx.db() as conn:
        f = await search_filter(ctx, conn, fields)
        total = await q.search_statistics(conn, f)
    return SearchStatisticsResponseDto(total=total)


@operation("searchRandom")
async def search_random(ctx: Ctx) -> list[AssetResponseDto]:
    fields = _present(await ctx.body(RandomSearchDto))
    async with ctx.db() as conn:
        f = await search_filter(ctx, conn, fields)
        rows = await q.search_random(conn, f, size=int(fields.get("size") or DEFAULT_SIZE))
    return [search_asset_dto(row, ctx.user.id) for row in rows]


@operation("searchLargeAssets")
async def search_large_assets(ctx: Ctx) -> list[AssetResponseDto]:
    # A query string cannot carry a null: an absent parameter means no filter.
    fields = {_snake(k): v for k, v in ctx.query.items() if v is not None}
    async with ctx.db() as conn:
        f = await search_filter(ctx, conn, fields)
        rows = await q.search_large_assets(
            conn,
            f,
            size=int(fields.get("size") or DEFAULT_SIZE),
            min_file_size=int(fields.get("min_file_size") or 0),
        )
    return [search_asset_dto(row, ctx.user.id) for row in rows]
