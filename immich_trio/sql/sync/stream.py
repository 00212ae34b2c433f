"""Sync machinery: checkpoints per session, ``nowId``, parents for backfill, streamed reads.

Queries take named parameters: ``me`` (the user), ``after`` (the checkpoint's id, or the
nil UUID), ``now`` (``nowId``); backfill queries ``parent``, ``after`` (exclusive) and
``before`` (inclusive) instead of ``me``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

NIL = "00000000-0000-0000-0000-000000000000"
# Rows per page (one short query each): bounds the memory of a stream.
PAGE_ROWS = 1000

Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]


def ts(expr: str) -> str:
    """A timestamp as JavaScript's ``toISOString`` writes it (ms, UTC, ``Z``)."""
    return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def day(expr: str) -> str:
    """A ``date`` column as Immich sends it: midnight UTC of that day."""
    return f"""to_char({expr}, 'YYYY-MM-DD"T00:00:00.000Z"')"""


def b64(expr: str) -> str:
    """Standard base64 of a bytea, on one line."""
    return f"translate(encode({expr}, 'base64'), E'\\n', '')"


# updateId/audit ids are immich_uuid_v7(clock_timestamp()) taken when the row is written, so a
# row still uncommitted when a page is read has an id at or after its transaction's start. Bounding
# nowId by the oldest writing transaction of this database (besides ours) means no row below nowId
# can commit after we read past it: it arrives in the next stream instead of being skipped by an
# ack beyond it (a plain ``now() - 1 ms`` loses an upload whose transaction commits mid-stream).
# A statement takes its ids (column defaults, BEFORE triggers) before its first row write gives the
# transaction an xid, so a running statement of a transaction with no xid yet bounds nowId by the
# statement's start (client statements only: not autovacuum, nor pg_dump's long read-only COPY).
NOW_ID = """
SELECT immich_uuid_v7(least(
    clock_timestamp(),
    coalesce((SELECT min(CASE WHEN backend_xid IS NOT NULL THEN xact_start ELSE query_start END)
              FROM pg_stat_activity
              WHERE pid <> pg_backend_pid() AND datname = current_database()
                AND (backend_xid IS NOT NULL
                     OR (state = 'active' AND backend_type = 'client backend'
                         AND application_name <> 'pg_dump'))), clock_timestamp())
) - interval '1 millisecond')::text AS id
"""


async def now_id(conn: AsyncConnection[Any]) -> str:
    """The stream's upper bound: every read of one stream stays below it (see ``NOW_ID``)."""
    cur = await conn.execute(NOW_ID)
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


async def stream_rows(
    connect: Connect, query: str, params: Mapping[str, Any]
) -> AsyncIterator[Sequence[Mapping[str, Any]]]:
    """Pages of rows of a query built by ``sql.sync.build``, by keyset: each page is its own
    query on a connection held only while it runs, so a client that reads slowly holds no
    pool connection and no open transaction between pages. Rows committed between two pages
    with keys below ``now`` and above the page mark are read; the rest wait for the next
    stream, as with one snapshot."""
    page = NIL
    while True:
        async with connect() as conn:
            cur = await conn.execute(query, {**params, "page": page, "page_rows": PAGE_ROWS})
            rows = await cur.fetchall()
        if rows:
            yield rows
        if len(rows) < PAGE_ROWS:
            return
        last = str(rows[-1]["ack"])
        if UUID(last) <= UUID(page):
            # a page key that does not increase would send the same page for ever
            raise RuntimeError(f"sync page key did not advance past {page}: {query}")
        page = last


# -- checkpoints ----------------------------------------------------------------------


async def checkpoints(conn: AsyncConnection[Any], session_id: UUID) -> dict[str, str]:
    cur = await conn.execute(
        'SELECT type, ack FROM session_sync_checkpoint WHERE "sessionId" = %s ORDER BY type',
        (session_id,),
    )
    return {row["type"]: row["ack"] for row in await cur.fetchall()}


async def upsert_checkpoints(
    conn: AsyncConnection[Any], session_id: UUID, acks: Mapping[str, str]
) -> None:
    if not acks:
        return
    await conn.execute(
        """
        INSERT INTO session_sync_checkpoint ("sessionId", type, ack)
        SELECT %s, t.type, t.ack FROM unnest(%s::text[], %s::text[]) AS t(type, ack)
        ON CONFLICT ("sessionId", type)
        DO UPDATE SET ack = excluded.ack, "updateId" = immich_uuid_v7()
        """,
        (session_id, list(acks), list(acks.values())),
    )


async def delete_checkpoints(
    conn: AsyncConnection[Any], session_id: UUID, types: Sequence[str] | None
) -> None:
    if types is None:
        await conn.execute(
            'DELETE FROM session_sync_checkpoint WHERE "sessionId" = %s', (session_id,)
        )
    else:
        await conn.execute(
            'DELETE FROM session_sync_checkpoint WHERE "sessionId" = %s AND type = ANY(%s::text[])',
            (session_id, list(types)),
        )


async def reset_session(conn: AsyncConnection[Any], session_id: UUID) -> None:
    """Forget every checkpoint of the session and clear ``isPendingSyncReset``."""
    async with conn.transaction():
        await delete_checkpoints(conn, session_id, None)
        cur = await conn.execute(
            'UPDATE session SET "isPendingSyncReset" = false WHERE id = %s RETURNING "userId"', (session_id,)
        )
        if (row := await cur.fetchone()) is not None:
            await publish_credentials_changed(conn, row[0] if isinstance(row, tuple) else row["userId"])


async def is_pending_reset(conn: AsyncConnection[Any], session_id: UUID) -> bool:
    cur = await conn.execute(
        'SELECT "isPendingSyncReset" FROM session WHERE id = %s', (session_id,)
    )
    row = await cur.fetchone()
    return bool(row and row["isPendingSyncReset"])


# -- parents of backfill ----------------------------------------------------------------

PARTNERS_CREATED_AFTER = """
SELECT "sharedById"::text AS parent, "createId"::text AS "createId" FROM partner
WHERE "sharedWithId" = %(me)s AND "createId" >= %(after)s AND "createId" < %(now)s
ORDER BY "createId"
"""

ALBUMS_CREATED_AFTER = """
SELECT "albumId"::text AS parent, "createId"::text AS "createId" FROM album_user
WHERE "userId" = %(me)s AND "createId" >= %(after)s AND "createId" < %(now)s
ORDER BY "createId"
"""


async def parents(
    conn: AsyncConnection[Any], query: str, me: UUID, after: str, now: str
) -> list[dict[str, Any]]:
    cur = await conn.execute(query, {"me": me, "after": after, "now": now})
    return list(await cur.fetchall())
