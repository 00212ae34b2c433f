"""Whole-database operations of the restore: a fresh database to restore into, and the swap
that puts it in place of the live one. They run on a connection to the server's maintenance
database (``postgres``), outside any transaction (``CREATE``/``DROP``/``ALTER DATABASE``)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

RESTORE_SUFFIX = "_restore"
OLD_SUFFIX = "_replaced"


async def recreate(conn: AsyncConnection[Any], name: str) -> None:
    """An empty database ``name`` (any leftover of an earlier run dropped first)."""
    await drop(conn, name)
    await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


async def drop(conn: AsyncConnection[Any], name: str) -> None:
    await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def swap(conn: AsyncConnection[Any], live: str, fresh: str) -> None:
    """Put ``fresh`` in place of ``live``: new connections to ``live`` refused, the open ones
    ended (the pool reconnects by name, to the new one), renames, the old one dropped.
    Until the first rename nothing is lost: a failure leaves ``live`` as it was (connections
    allowed again)."""
    old = live + OLD_SUFFIX
    live_id, fresh_id, old_id = sql.Identifier(live), sql.Identifier(fresh), sql.Identifier(old)
    await drop(conn, old)
    await conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(live_id))
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (live,),
        )
        await conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(live_id, old_id))
    except BaseException:
        await conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(live_id))
        raise
    await conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(fresh_id, live_id))
    await drop(conn, old)
