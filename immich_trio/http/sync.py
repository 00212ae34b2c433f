"""The Sync tag: the mobile app's JSON-lines stream and its acks (docs/reference/sync.md).

All four routes need a session: API keys get Immich's 403. The stream's body is written by
``sync_stream`` as it is read; this module answers everything decided before the first line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast, get_args
from uuid import UUID

from quart import Response

from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import (
    SyncAckDeleteDto,
    SyncAckDto,
    SyncAckSetDto,
    SyncEntityType,
    SyncStreamDto,
)
from immich_trio.http.errors import BadRequest, Forbidden
from immich_trio.http.registry import operation
from immich_trio.http.sync_stream import DEPRECATED, RESET_LINE, Stream, parse_ack, plan
from immich_trio.sql.sync import stream as q

CONTENT_TYPE = "application/jsonlines+json"
ENTITY_TYPES = frozenset(get_args(SyncEntityType))
# A client whose last complete sync is older than this must wipe and start again.
RESET_AFTER = timedelta(days=30)


def _session(ctx: Ctx) -> UUID:
    if ctx.auth is None or ctx.auth.session is None:
        raise Forbidden("Sync endpoints cannot be used with API keys")
    return ctx.auth.session.id


def _uuid7_time(uuid: str) -> datetime:
    return datetime.fromtimestamp(int(uuid.replace("-", "")[:12], 16) / 1000, tz=UTC)


async def _single(text: str) -> AsyncIterator[bytes]:
    yield text.encode()


def _lines(body: AsyncIterator[bytes]) -> Response:
    return Response(body, status=200, content_type=CONTENT_TYPE)


@operation("getSyncStream")
async def get_sync_stream(ctx: Ctx) -> Response:
    session_id = _session(ctx)
    dto = await ctx.body(SyncStreamDto)
    me = ctx.user.id
    async with ctx.db() as conn:
        if dto.reset is True:
            await q.reset_session(conn, session_id)
        if await q.is_pending_reset(conn, session_id):
            return _lines(_single(RESET_LINE))
        checkpoints = await q.checkpoints(conn, session_id)
    complete = checkpoints.get("SyncCompleteV1")
    complete_id = parse_ack(complete)[1] if complete else None
    if complete_id is not None and _uuid7_time(complete_id) < ctx.runtime.now() - RESET_AFTER:
        return _lines(_single(RESET_LINE))
    todo, deprecated = plan(list(dto.types))
    async with ctx.runtime.pool.connection() as conn:
        now = await q.now_id(conn)
    stream = Stream(
        connect=ctx.runtime.pool.connection,
        me=me,
        session_id=session_id,
        now=now,
        checkpoints=checkpoints,
    )
    chunks = stream.run(todo, complete=deprecated is None)
    if deprecated is None:
        return _lines(chunks)
    # Immich answers the deprecation with a 400 only while nothing is written: read up to the
    # first line before choosing the status; after lines, the stream just stops there.
    first = await anext(chunks, None)
    if first is None:
        raise BadRequest(
            f"SyncRequestType.{deprecated} is deprecated, use SyncRequestType.{DEPRECATED[deprecated]} instead"
        )

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return _lines(body())


@operation("getSyncAck")
async def get_sync_ack(ctx: Ctx) -> list[SyncAckDto]:
    session_id = _session(ctx)
    async with ctx.db() as conn:
        stored = await q.checkpoints(conn, session_id)
    return [
        SyncAckDto(type=cast(SyncEntityType, type_), ack=ack)
        for type_, ack in stored.items()
        if type_ in ENTITY_TYPES
    ]


@operation("sendSyncAck")
async def send_sync_ack(ctx: Ctx) -> None:
    session_id = _session(ctx)
    dto = await ctx.body(SyncAckSetDto)
    latest: dict[str, str] = {}
    async with ctx.db() as conn:
        for ack in dto.acks:
            type_ = ack.split("|", 1)[0]
            if type_ == "SyncResetV1":
                await q.reset_session(conn, session_id)
                return None
            if type_ not in ENTITY_TYPES:
                raise BadRequest(f"Invalid ack type: {type_}")
            latest[type_] = ack
        await q.upsert_checkpoints(conn, session_id, latest)
    return None


@operation("deleteSyncAck")
async def delete_sync_ack(ctx: Ctx) -> None:
    session_id = _session(ctx)
    dto = await ctx.body(SyncAckDeleteDto)
    types: Any = None if dto.types is OMIT else list(dto.types)
    async with ctx.db() as conn:
        await q.delete_checkpoints(conn, session_id, types)
