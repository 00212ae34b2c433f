"""The Duplicates tag: the caller's groups of near-identical assets, dismissing and resolving them.

Immich's rules (``DuplicateService``): listing first dissolves groups left with one member;
dismissing (``duplicate.delete``) unlinks the caller's assets of a group, deleting nothing;
resolving (``duplicate.delete`` on every group) answers one result per group: every member in
exactly one of keep/trash (ids outside the group ignored), ``asset.delete`` on the trashed
ones; with exactly one keeper its metadata absorbs the others' (favorite, visibility, best
rating, description lines, a shared GPS position, albums, tags) before the rest is trashed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from immich_trio import sysconfig
from immich_trio.http.access import check_access, require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import (
    BulkIdResponseDto,
    BulkIdsDto,
    DuplicateResolveDto,
    DuplicateResolveGroupDto,
    DuplicateResponseDto,
)
from immich_trio.http.registry import operation
from immich_trio.jobs.names import JobName
from immich_trio.sql import duplicates as q
from immich_trio.sql import events
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import tags as tags_q
from immich_trio.sql.albums import write as albums_q
from immich_trio.sql.assets import edits as edits_q

log = logging.getLogger(__name__)

BOTH_LISTS = "An asset cannot be in both keepAssetIds and trashAssetIds"
NEITHER_LIST = "Every asset must be in either keepAssetIds or trashAssetIds"
NO_DELETE = "No permission to delete assets"
VISIBILITY_ORDER = ("locked", "archive", "timeline")


def _exif(asset: Mapping[str, Any]) -> Mapping[str, Any]:
    exif = asset.get("exifInfo")
    return exif if isinstance(exif, Mapping) else {}


def suggested_keep(assets: Sequence[Mapping[str, Any]]) -> list[UUID]:
    """Immich's suggestion: the largest file; among equals the one with most exif values set
    (the last of those, in the group's order)."""
    if not assets:
        return []
    size = [int(_exif(a).get("fileSizeInByte") or 0) for a in assets]
    best = [a for a, s in zip(assets, size, strict=True) if s == max(size)]
    if len(best) >= 2:
        best = sorted(best, key=lambda a: sum(1 for v in _exif(a).values() if v))
    return [best[-1]["id"]]


@operation("getAssetDuplicates")
async def get_asset_duplicates(ctx: Ctx) -> list[DuplicateResponseDto]:
    async with ctx.db() as conn:
        async with conn.transaction():
            await q.clean_singletons(conn, ctx.user.id)
        groups = await q.groups_of_owner(conn, ctx.user.id)
    return [
        DuplicateResponseDto(
            duplicate_id=duplicate_id,
            assets=[
                asset_dto(a, caller_id=ctx.user.id, exif=a["exifInfo"], tags=a["tags"]) for a in assets
            ],
            suggested_keep_asset_ids=suggested_keep(assets),
        )
        for duplicate_id, assets in groups
    ]


@operation("deleteDuplicate")
async def delete_duplicate(ctx: Ctx) -> None:
    duplicate_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "duplicate.delete", [duplicate_id])
        await q.dismiss(conn, ctx.user.id, [duplicate_id])


@operation("deleteDuplicates")
async def delete_duplicates(ctx: Ctx) -> None:
    dto = await ctx.body(BulkIdsDto)
    async with ctx.db() as conn, conn.transaction():
        await require_access(ctx, conn, "duplicate.delete", dto.ids)
        await q.dismiss(conn, ctx.user.id, list(dict.fromkeys(dto.ids)))


@operation("resolveDuplicates")
async def resolve_duplicates(ctx: Ctx) -> list[BulkIdResponseDto]:
    dto = await ctx.body(DuplicateResolveDto)
    results: list[BulkIdResponseDto] = []
    async with ctx.db() as conn:
        await require_access(ctx, conn, "duplicate.delete", [g.duplicate_id for g in dto.groups])
        config = await sysconfig.load(conn, sysconfig.defaults_for(ctx.runtime.settings))
        for group in dto.groups:
            try:
                async with conn.transaction():
                    results.append(await _resolve(ctx, conn, group, trash_enabled=bool(config["trash"]["enabled"])))
            except Exception as exc:  # one group's failure is its own result, as Immich answers
                log.exception("resolving duplicate group %s: %s", group.duplicate_id, exc)
                results.append(BulkIdResponseDto(id=group.duplicate_id, success=False, error="unknown"))
    return results


def _refused(duplicate_id: UUID, error: Any, message: str | None = None) -> BulkIdResponseDto:
    if message is None:
        return BulkIdResponseDto(id=duplicate_id, success=False, error=error)
    return BulkIdResponseDto(id=duplicate_id, success=False, error=error, error_message=message)


async def _resolve(ctx: Ctx, conn: Any, group: DuplicateResolveGroupDto, *, trash_enabled: bool) -> BulkIdResponseDto:
    assets = await q.group(conn, group.duplicate_id)
    if not assets:
        return _refused(group.duplicate_id, "not_found")
    members = [a["id"] for a in assets]
    keep = [i for i in group.keep_asset_ids if i in members]
    trash = [i for i in group.trash_asset_ids if i in members]
    for member in members:
        if member in keep and member in trash:
            return _refused(group.duplicate_id, "validation", BOTH_LISTS)
        if member not in keep and member not in trash:
            return _refused(group.duplicate_id, "validation", NEITHER_LIST)
    # Immich compares the allowed set with the list: an id listed twice counts as refused.
    if trash and len(await check_access(ctx, conn, "asset.delete", trash)) != len(trash):
        return _refused(group.duplicate_id, "no_permission", NO_DELETE)
    if len(keep) == 1 and trash:
        await _absorb(ctx, conn, assets, keep)
    elif keep:
        await q.clear(conn, keep)
    if trash:
        await edits_q.trash(conn, trash, ctx.runtime.now(), force=not trash_enabled)
        await q.clear(conn, trash)
        if trash_enabled:
            await events.publish_ids(conn, ctx.user.id, "on_asset_trash", trash)
        else:
            await jobs_q.enqueue_job(conn, JobName.ASSET_EMPTY_TRASH, {})
    return BulkIdResponseDto(id=group.duplicate_id, success=True)


async def _absorb(ctx: Ctx, conn: Any, assets: Sequence[Mapping[str, Any]], keep: list[UUID]) -> None:
    """The keeper takes the group's metadata, as Immich's resolve merges it."""
    albums = await q.albums_of_assets(conn, ctx.user.id, [a["id"] for a in assets])
    if albums:
        allowed_albums = await check_access(ctx, conn, "albumAsset.create", albums)
        shareable = await check_access(ctx, conn, "asset.share", keep)
        await albums_q.add_pairs(conn, [(al, a) for al in allowed_albums for a in shareable])
    tag_ids = list(dict.fromkeys(UUID(str(t["id"])) for a in assets for t in (a["tags"] or [])))
    allowed_tags = await check_access(ctx, conn, "tag.asset", tag_ids) if tag_ids else set()
    if allowed_tags:
        for asset_id in keep:
            await tags_q.replace_asset_tags(conn, asset_id, [t for t in tag_ids if t in allowed_tags])
        await tags_q.mirror_exif_tags(conn, keep)
    exif = _exif_update(assets)
    await edits_q.upsert_exif_locked(conn, keep, exif)
    if exif or tag_ids:
        await jobs_q.enqueue_for_assets(conn, JobName.SIDECAR_WRITE, keep)
    values: dict[str, Any] = {"duplicateId": None, "isFavorite": any(a["isFavorite"] for a in assets)}
    visibility = next((v for v in VISIBILITY_ORDER if any(a["visibility"] == v for a in assets)), None)
    if visibility is None and any(a["visibility"] == "hidden" for a in assets):
        visibility = "hidden"
    if visibility is not None:
        values["visibility"] = visibility
    await edits_q.update_assets(conn, keep, values)


def _exif_update(assets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rating = max((int(_exif(a).get("rating") or 0) for a in assets), default=0)
    if rating > 0:
        out["rating"] = rating
    lines: list[str] = []
    for a in assets:
        for line in str(_exif(a).get("description") or "").splitlines():
            if line.strip() and line.strip() not in lines:
                lines.append(line.strip())
    if lines:
        out["description"] = "\n".join(lines)
    coords = [(_exif(a).get("latitude"), _exif(a).get("longitude")) for a in assets]
    lats = {c[0] for c in coords if isinstance(c[0], int | float)}
    lons = {c[1] for c in coords if isinstance(c[1], int | float)}
    if len(lats) == 1 and len(lons) == 1:
        out["latitude"], out["longitude"] = lats.pop(), lons.pop()
    return out
