"""The Libraries tag (admin only): external libraries, their import paths and exclusion
patterns, validation, statistics and scans (library.service.ts). The scan itself is the
``library_scanner`` actor's, reached through the jobs queued here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import trio

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT, value_or
from immich_trio.http.dto.generated import (
    CreateLibraryDto,
    LibraryResponseDto,
    LibraryStatsResponseDto,
    UpdateLibraryDto,
    ValidateLibraryDto,
    ValidateLibraryImportPathResponseDto,
    ValidateLibraryResponseDto,
)
from immich_trio.http.errors import BadRequest, ValidationFailed
from immich_trio.http.registry import operation
from immich_trio.sql import libraries as q
from immich_trio.sql import users as users_q
from immich_trio.storage.import_paths import import_path_problem

DEFAULT_NAME = "New External Library"
DEFAULT_EXCLUSION_PATTERNS = (
    "**/@eaDir/**",
    "**/._*",
    "**/#recycle/**",
    "**/#snapshot/**",
    "**/.stversions/**",
    "**/.stfolder/**",
)
NOT_FOUND = "Library not found"
# Immich's refinements of its string arrays (zod ``custom`` issues).
EMPTY_ITEM = "Array items must not be empty"
NOT_UNIQUE = "Array must have unique items"


def _check_arrays(fields: dict[str, Sequence[str] | Any]) -> None:
    issues: list[dict[str, Any]] = []
    for name, value in fields.items():
        if value is OMIT:
            continue
        if not all(item.strip() for item in value):
            issues.append({"code": "custom", "path": [name], "message": EMPTY_ITEM})
        if len(set(value)) != len(value):
            issues.append({"code": "custom", "path": [name], "message": NOT_UNIQUE})
    if issues:
        raise ValidationFailed(issues)


def library_dto(row: dict[str, Any]) -> LibraryResponseDto:
    # Immich loads no assets with a library, so its count is always 0.
    return LibraryResponseDto(
        id=row["id"],
        owner_id=row["ownerId"],
        name=row["name"],
        import_paths=list(row["importPaths"]),
        exclusion_patterns=list(row["exclusionPatterns"]),
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        refreshed_at=row["refreshedAt"],
        asset_count=0,
    )


async def _validate_paths(ctx: Ctx, paths: Sequence[str]) -> list[ValidateLibraryImportPathResponseDto]:
    media = ctx.runtime.settings.media_location
    out = []
    for path in paths:
        problem = await trio.to_thread.run_sync(import_path_problem, path, media)
        out.append(
            ValidateLibraryImportPathResponseDto(
                import_path=path, is_valid=problem is None, message=OMIT if problem is None else problem
            )
        )
    return out


async def _find_or_fail(ctx: Ctx, library_id: UUID) -> dict[str, Any]:
    async with ctx.db() as conn:
        row = await q.get(conn, library_id)
    if row is None:
        raise BadRequest(NOT_FOUND)
    return row


@operation("getAllLibraries")
async def get_all_libraries(ctx: Ctx) -> list[LibraryResponseDto]:
    async with ctx.db() as conn:
        rows = await q.list_all(conn)
    return [library_dto(row) for row in rows]


@operation("createLibrary")
async def create_library(ctx: Ctx) -> LibraryResponseDto:
    dto = await ctx.body(CreateLibraryDto)
    _check_arrays({"importPaths": dto.import_paths, "exclusionPatterns": dto.exclusion_patterns})
    async with ctx.db() as conn:
        # Immich inserts and fails on the foreign key (a 500); an unknown owner is bad input.
        if await users_q.get_user(conn, dto.owner_id) is None:
            raise BadRequest("User not found")
        row = await q.create(
            conn,
            owner_id=dto.owner_id,
            name=value_or(dto.name, DEFAULT_NAME),
            import_paths=value_or(dto.import_paths, []),
            exclusion_patterns=value_or(dto.exclusion_patterns, list(DEFAULT_EXCLUSION_PATTERNS)),
        )
    return library_dto(row)


@operation("getLibrary")
async def get_library(ctx: Ctx) -> LibraryResponseDto:
    return library_dto(await _find_or_fail(ctx, UUID(ctx.path["id"])))


@operation("updateLibrary")
async def update_library(ctx: Ctx) -> LibraryResponseDto:
    library_id = UUID(ctx.path["id"])
    dto = await ctx.body(UpdateLibraryDto)
    _check_arrays({"importPaths": dto.import_paths, "exclusionPatterns": dto.exclusion_patterns})
    await _find_or_fail(ctx, library_id)
    if dto.import_paths is not OMIT:
        for result in await _validate_paths(ctx, dto.import_paths):
            if not result.is_valid:
                raise BadRequest(f"Invalid import path: {result.message}")
    async with ctx.db() as conn:
        row = await q.update(
            conn,
            library_id,
            name=value_or(dto.name, None),
            import_paths=value_or(dto.import_paths, None),
            exclusion_patterns=value_or(dto.exclusion_patterns, None),
        )
    if row is None:  # deleted meanwhile
        raise BadRequest(NOT_FOUND)
    return library_dto(row)


@operation("deleteLibrary")
async def delete_library(ctx: Ctx) -> None:
    library_id = UUID(ctx.path["id"])
    async with ctx.db() as conn, conn.transaction():
        if not await q.soft_delete(conn, library_id):
            raise BadRequest(NOT_FOUND)


@operation("validate")
async def validate(ctx: Ctx) -> ValidateLibraryResponseDto:
    # Immich validates the paths without looking the library up.
    dto = await ctx.body(ValidateLibraryDto)
    _check_arrays({"importPaths": dto.import_paths, "exclusionPatterns": dto.exclusion_patterns})
    return ValidateLibraryResponseDto(import_paths=await _validate_paths(ctx, value_or(dto.import_paths, [])))


@operation("getLibraryStatistics")
async def get_library_statistics(ctx: Ctx) -> LibraryStatsResponseDto:
    library_id = UUID(ctx.path["id"])
    async with ctx.db() as conn:
        stats = await q.statistics(conn, library_id)
    if stats is None:
        raise BadRequest(f"Library {library_id} not found")
    return LibraryStatsResponseDto(
        photos=stats.photos, videos=stats.videos, total=stats.photos + stats.videos, usage=stats.usage
    )


@operation("scanLibrary")
async def scan_library(ctx: Ctx) -> None:
    library_id = UUID(ctx.path["id"])
    async with ctx.db() as conn, conn.transaction():
        if await q.get(conn, library_id) is None:
            raise BadRequest(NOT_FOUND)
        await q.enqueue_scan(conn, library_id)
