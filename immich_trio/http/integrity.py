"""Tag "Maintenance (admin)", integrity reports: summary, pages by type, CSV, the flagged
file, and removal of a report's subject (admin only; the route table applies the rule)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import trio
from quart import Response

from immich_trio.actors.integrity import cleanup, files
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import (
    IntegrityReportResponseDto,
    IntegrityReportSummaryResponseDto,
)
from immich_trio.http.errors import NotFound
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.sql import integrity as q

CSV_BATCH = 1000
PRIVATE_WITHOUT_CACHE = "private, no-cache, no-transform"


@operation("getIntegrityReportSummary")
async def get_summary(ctx: Ctx) -> IntegrityReportSummaryResponseDto:
    async with ctx.db() as conn:
        counts = await q.summary(conn)
    return IntegrityReportSummaryResponseDto(**counts)


@operation("getIntegrityReport")
async def get_report(ctx: Ctx) -> IntegrityReportResponseDto:
    limit = int(ctx.query.get("limit") or 500)
    cursor = ctx.query.get("cursor")
    async with ctx.db() as conn:
        rows = await q.page(conn, str(ctx.query["type"]), str(cursor) if cursor else None, limit)
    items = [{"id": str(r["id"]), "type": r["type"], "path": r["path"]} for r in rows[:limit]]
    next_cursor = str(rows[limit]["id"]) if len(rows) > limit else OMIT
    return IntegrityReportResponseDto(items=items, next_cursor=next_cursor)


def _csv_field(value: object) -> str:
    return "null" if value is None else str(value)


@operation("getIntegrityReportCsv")
async def get_report_csv(ctx: Ctx) -> Response:
    kind = str(ctx.path["type"])
    pool = ctx.runtime.pool

    async def lines() -> AsyncIterator[bytes]:
        yield b"id,type,assetId,fileAssetId,path\n"
        async with pool.connection() as conn:
            async for r in q.stream(conn, kind, CSV_BATCH):
                path = str(r["path"]).replace('"', '""')
                yield (
                    f'{r["id"]},{r["type"]},{_csv_field(r["assetId"])},'
                    f'{_csv_field(r["fileAssetId"])},"{path}"\n'
                ).encode()

    response = Response(lines(), status=200, content_type="text/csv")
    response.headers["Cache-Control"] = PRIVATE_WITHOUT_CACHE
    name = quote(f"{int(time.time() * 1000)}-{kind}.csv", safe="")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@operation("getIntegrityReportFile")
async def get_report_file(ctx: Ctx) -> Response:
    async with ctx.db() as conn:
        row = await q.get(conn, str(ctx.path["id"]))
    if row is None:
        raise NotFound()
    path = str(row["path"])
    file = FileToSend(
        path=path,
        content_type="application/octet-stream",
        file_name=os.path.basename(path),
        cache_control=PRIVATE_WITHOUT_CACHE,
    )
    return await send_file(dict(ctx.request.headers), file)


@operation("deleteIntegrityReport")
async def delete_report(ctx: Ctx) -> None:
    async with ctx.db() as conn, conn.transaction():
        row = await q.get(conn, str(ctx.path["id"]))
        if row is None:
            raise NotFound()
        doomed = await cleanup.resolve(conn, [row])
    for path in doomed:
        await trio.to_thread.run_sync(files.unlink, path)
