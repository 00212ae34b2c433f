"""psycopg on Trio: queries, transactions, cancellation, LISTEN/NOTIFY, COPY, sockets."""

from __future__ import annotations

import runpy
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import trio
from psycopg import pq

from immich_trio.sql.driver import TrioConnection, _resolve_attempts, connect

CAP = 20  # seconds: hard cap for every database wait in these tests

Conn = TrioConnection[dict[str, Any]]


@pytest.fixture(scope="module")
def db_url_shared(pg_server_url: str) -> Iterator[str]:
    """One database for this module (tests use TEMP tables): creating one per test is slow."""
    name = "t_driver_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(pg_server_url)._replace(path="/" + name))
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def conn(db_url_shared: str) -> AsyncIterator[Conn]:
    c = await connect(db_url_shared, autocommit=True)
    try:
        yield c
    finally:
        await c.close()


async def test_parameterised_query_returns_dict_rows(conn: Conn) -> None:
    with trio.fail_after(CAP):
        cur = await conn.execute("SELECT %s::int + 1 AS n, %s::text AS s", (41, "x"))
        assert await cur.fetchone() == {"n": 42, "s": "x"}
        cur = await conn.execute(
            "SELECT g FROM generate_series(1, 3) g WHERE g > %(min)s", {"min": 1}
        )
        assert await cur.fetchall() == [{"g": 2}, {"g": 3}]
        cur = await conn.execute("SHOW TimeZone")
        assert await cur.fetchone() == {"TimeZone": "UTC"}


async def test_transaction_commit_and_rollback(conn: Conn) -> None:
    with trio.fail_after(CAP):
        await conn.execute("CREATE TEMP TABLE t (v int)")
        async with conn.transaction():
            await conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("boom")
        cur = await conn.execute("SELECT v FROM t")
        assert await cur.fetchall() == [{"v": 1}]


async def test_default_non_autocommit_connection(db_url_shared: str) -> None:
    with trio.fail_after(CAP):
        async with await connect(db_url_shared) as c:
            await c.execute("CREATE TEMP TABLE t (v int)")
            await c.rollback()
            with pytest.raises(psycopg.errors.UndefinedTable):
                await c.execute("SELECT * FROM t")
            await c.rollback()


async def test_cancelled_query_is_cancelled_on_server_and_connection_stays_usable(
    conn: Conn,
) -> None:
    with trio.fail_after(CAP):
        started = time.monotonic()
        with trio.move_on_after(0.2) as scope:
            await conn.execute("SELECT pg_sleep(10)")
        assert scope.cancelled_caught
        assert time.monotonic() - started < 5
        assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        cur = await conn.execute("SELECT 1 AS one")
        assert await cur.fetchone() == {"one": 1}


async def test_cancel_inside_transaction_rolls_back_and_keeps_bookkeeping(conn: Conn) -> None:
    with trio.fail_after(CAP):
        await conn.execute("CREATE TEMP TABLE t (v int)")
        with trio.move_on_after(0.2) as scope:
            async with conn.transaction():
                await conn.execute("INSERT INTO t VALUES (1)")
                await conn.execute("SELECT pg_sleep(10)")
        assert scope.cancelled_caught
        assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        # psycopg's transaction nesting must be back to zero: this is a real transaction.
        async with conn.transaction():
            await conn.execute("INSERT INTO t VALUES (2)")
        cur = await conn.execute("SELECT v FROM t")
        assert await cur.fetchall() == [{"v": 2}]


async def test_cancel_in_non_autocommit_connection(db_url_shared: str) -> None:
    with trio.fail_after(CAP):
        c = await connect(db_url_shared)
        try:
            with trio.move_on_after(0.2):
                await c.execute("SELECT pg_sleep(10)")
            assert c.pgconn.transaction_status == pq.TransactionStatus.INERROR
            await c.rollback()
            cur = await c.execute("SELECT 2 AS two")
            assert await cur.fetchone() == {"two": 2}
        finally:
            await c.close()


async def test_listen_notify(db_url_shared: str, conn: Conn) -> None:
    with trio.fail_after(CAP):
        sender = await connect(db_url_shared, autocommit=True)
        try:
            await conn.execute("LISTEN events")
            received: list[tuple[str, str]] = []

            async def send() -> None:
                for i in range(3):
                    await sender.execute("SELECT pg_notify('events', %s)", (f"m{i}",))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                async with aclosing(conn.notifies()) as gen:
                    async for n in gen:
                        received.append((n.channel, n.payload))
                        if len(received) == 3:
                            break
            assert received == [("events", "m0"), ("events", "m1"), ("events", "m2")]

            # Waiting for notifications is cancellable and leaves the connection usable.
            with trio.move_on_after(0.1) as scope:
                async with aclosing(conn.notifies()) as gen:
                    async for _ in gen:
                        pytest.fail("no notification was sent")
            assert scope.cancelled_caught
            # psycopg's own timeout works too (it is driven by the Trio clock).
            async with aclosing(conn.notifies(timeout=0.1)) as gen:
                assert [n async for n in gen] == []
            cur = await conn.execute("SELECT 3 AS three")
            assert await cur.fetchone() == {"three": 3}
        finally:
            await sender.close()


async def test_close_wakes_a_task_waiting_on_the_socket(conn: Conn) -> None:
    with trio.fail_after(CAP):
        await conn.execute("LISTEN nothing")
        errors: list[BaseException] = []

        async def listen() -> None:
            try:
                async with aclosing(conn.notifies()) as gen:
                    async for _ in gen:
                        pass
            except psycopg.OperationalError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(listen)
            await trio.sleep(0.1)
            await conn.close()
        assert len(errors) == 1


async def test_copy_in_and_out(conn: Conn) -> None:
    with trio.fail_after(CAP):
        await conn.execute("CREATE TEMP TABLE t (id int, name text)")
        cur = conn.cursor()
        async with cur.copy("COPY t (id, name) FROM STDIN") as copy:
            for i in range(1000):
                await copy.write_row((i, f"name {i}"))
        cur = await conn.execute("SELECT count(*) AS n, max(name) AS m FROM t")
        assert await cur.fetchone() == {"n": 1000, "m": "name 999"}

        rows = []
        async with conn.cursor().copy(
            "COPY (SELECT id, name FROM t ORDER BY id) TO STDOUT"
        ) as copy:
            async for row in copy.rows():
                rows.append(row)
        assert len(rows) == 1000
        assert rows[7] == ("7", "name 7")

        data = b""
        async with conn.cursor().copy("COPY (SELECT 1, 'a') TO STDOUT") as copy:
            async for block in copy:
                data += bytes(block)
        assert data == b"1\ta\n"


async def test_server_side_cursor(conn: Conn) -> None:
    with trio.fail_after(CAP):
        async with conn.transaction():
            async with conn.cursor(name="big") as cur:
                await cur.execute("SELECT g FROM generate_series(1, 2500) g")
                first = await cur.fetchmany(1000)
                rest = await cur.fetchall()
        assert first[0] == {"g": 1} and len(first) == 1000
        assert len(rest) == 1500 and rest[-1] == {"g": 2500}


async def test_concurrent_use_of_one_connection_is_serialised(conn: Conn) -> None:
    with trio.fail_after(CAP):
        results: list[int] = []

        async def query(i: int) -> None:
            cur = await conn.execute("SELECT %s::int AS i, pg_sleep(0.01)", (i,))
            row = await cur.fetchone()
            assert row is not None
            results.append(row["i"])

        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(query, i)
        assert sorted(results) == list(range(10))


async def test_unix_socket_url(db_url_shared: str) -> None:
    if "host=/" not in db_url_shared:
        pytest.skip("the test server is not reached through a unix socket")
    with trio.fail_after(CAP):
        c = await connect(db_url_shared)
        try:
            assert c.info.host.startswith("/")
            cur = await c.execute("SELECT current_database() AS db")
            row = await cur.fetchone()
            assert row is not None and db_url_shared.split("?")[0].endswith(row["db"])
        finally:
            await c.close()


async def test_connect_error_is_fast_and_clear(tmp_path: Any) -> None:
    with trio.fail_after(CAP), pytest.raises(psycopg.OperationalError):
        await connect(f"postgresql://postgres@/postgres?host={tmp_path}")


async def test_host_names_are_resolved_with_trio() -> None:
    with trio.fail_after(CAP):
        attempts = await _resolve_attempts({"host": "localhost", "port": "5432"})
    assert attempts
    assert all(a["hostaddr"] in ("127.0.0.1", "::1") for a in attempts)
    assert await _resolve_attempts({"host": "/tmp"}) == [{"host": "/tmp"}]
    assert await _resolve_attempts({"host": "10.1.2.3"}) == [
        {"host": "10.1.2.3", "hostaddr": "10.1.2.3"}
    ]


async def test_pipeline_and_executemany(conn: Conn) -> None:
    with trio.fail_after(CAP):
        await conn.execute("CREATE TEMP TABLE t (v int)")
        async with conn.pipeline():
            await conn.execute("INSERT INTO t VALUES (1)")
            await conn.execute("INSERT INTO t VALUES (2)")
            cur = await conn.execute("SELECT count(*) AS n FROM t")
        assert await cur.fetchone() == {"n": 2}
        cur = conn.cursor()
        await cur.executemany("INSERT INTO t VALUES (%s)", [(i,) for i in range(100)])
        cur = await conn.execute("SELECT count(*) AS n FROM t")
        assert await cur.fetchone() == {"n": 102}


async def test_large_payloads_in_both_directions(conn: Conn) -> None:
    # Bigger than the socket buffers: libpq must wait for writability mid-message.
    with trio.fail_after(CAP):
        big = "x" * (8 * 1024 * 1024)
        cur = await conn.execute("SELECT length(%s::text) AS n", (big,))
        assert await cur.fetchone() == {"n": len(big)}
        cur = await conn.execute("SELECT repeat('y', 8 * 1024 * 1024) AS s")
        row = await cur.fetchone()
        assert row is not None and len(row["s"]) == 8 * 1024 * 1024

        await conn.execute("CREATE TEMP TABLE t (id int, payload text)")
        payload = "z" * 1000
        async with conn.cursor().copy("COPY t FROM STDIN") as copy:
            for i in range(5000):
                await copy.write_row((i, payload))
        cur = await conn.execute("SELECT count(*) AS n, sum(length(payload)) AS s FROM t")
        assert await cur.fetchone() == {"n": 5000, "s": 5000 * 1000}


def test_refuses_other_psycopg_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    from immich_trio.sql import driver

    monkeypatch.setattr(psycopg, "__version__", "3.9.0")
    with pytest.raises(ImportError, match=r"psycopg==3\.3\.9 exactly, found 3\.9\.0"):
        runpy.run_path(driver.__file__)
