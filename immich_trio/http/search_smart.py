"""``POST /search/smart`` (``searchSmart``): CLIP search with the metadata filters.

As Immich's ``SearchService.searchSmart``: locked assets need an elevated session; with
``machineLearning.enabled`` or ``machineLearning.clip.enabled`` off the answer is 400 ``Smart
search is not enabled``; the query text is encoded with the configured CLIP model (cached per
model, query and language) or ``queryAssetId``'s stored embedding is used (``asset.read``
access; 400 ``Asset <id> has no embedding`` without one); results are the assets of the caller
and their timeline partners matching the filters, nearest first, ``size`` (default 100) per
page with ``nextPage``.
"""

from __future__ import annotations

from immich_trio import sysconfig
from immich_trio.http.access import require_access, require_elevated_permission
from immich_trio.http.context import Ctx
from immich_trio.http.dto.generated import (
    SearchAlbumResponseDto,
    SearchAssetResponseDto,
    SearchResponseDto,
    SmartSearchDto,
)
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.http.search import _present, search_asset_dto, search_filter
from immich_trio.ml.layout import ModelError
from immich_trio.ml.service import ClipUnavailable, clip_enabled
from immich_trio.sql import smart_search as q

DEFAULT_SIZE = 100
NOT_ENABLED = "Smart search is not enabled"
NEEDS_QUERY = "Either `query` or `queryAssetId` must be set"


@operation("searchSmart")
async def search_smart(ctx: Ctx) -> SearchResponseDto:
    fields = _present(await ctx.body(SmartSearchDto))
    if fields.get("visibility") == "locked":
        require_elevated_permission(ctx)
    async with ctx.db() as conn:
        config = await sysconfig.load(conn, sysconfig.defaults_for(ctx.runtime.settings))
    if not clip_enabled(config):
        raise BadRequest(NOT_ENABLED)
    clip = ctx.runtime.clip
    query, query_asset_id = fields.get("query"), fields.get("query_asset_id")
    if query:
        if clip is None:
            raise BadRequest(NOT_ENABLED)
        try:
            embedding = await clip.encode_text(config, query, fields.get("language"))
        except ModelError as exc:
            raise RuntimeError(f"Machine learning failed: {exc.reason}") from exc
        except ClipUnavailable as exc:
            raise RuntimeError(str(exc)) from exc
    elif query_asset_id:
        async with ctx.db() as conn:
            await require_access(ctx, conn, "asset.read", [query_asset_id])
            stored = await q.embedding_of(conn, query_asset_id)
        if stored is None:
            raise BadRequest(f"Asset {query_asset_id} has no embedding")
        embedding = stored
    else:
        raise BadRequest(NEEDS_QUERY)
    page = int(fields.get("page") or 1)
    size = int(fields.get("size") or DEFAULT_SIZE)
    async with ctx.db() as conn:
        f = await search_filter(ctx, conn, fields)
        rows, has_next = await q.search_smart(conn, f, embedding, page=page, size=size)
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
