"""The Trio connection pool: bounds, resets, broken connections, database restarts."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trio
from psycopg import pq

from immich_trio.sql.driver import connect
from immich_trio.sql.embedded import EmbeddedPostgres
from immich_trio.sql.errors import DatabaseUnavailable, PoolClosed
from immich_trio.sql.pool import Pool, open_pool

CAP = 30


async def test_pool_bounds_connections_and_reports_statistics(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        async with open_pool(empty_db_url, max_size=2) as pool:
            peak_waiting = 0

            async def work(i: int) -> None:
                nonlocal peak_waiting
                async with pool.connection() as conn:
                    peak_waiting = max(peak_waiting, pool.statistics().waiting)
                    await conn.execute("SELECT pg_sleep(0.05)")

            async with trio.open_nursery() as nursery:
                for i in range(6):
                    nursery.start_soon(work, i)
            stats = pool.statistics()
            assert stats.max_size == 2
            assert stats.size == 2 and stats.idle == 2 and stats.in_use == 0
            assert stats.connections_made == 2
            assert peak_waiting > 0
            assert stats.waiting == 0


async def test_maintenance_closes_idle_connections_and_keeps_min_size(
    empty_db_url: str,
) -> None:
    with trio.fail_after(CAP):
        async with open_pool(
            empty_db_url, max_size=3, min_size=1, max_idle=0.05, maintenance_interval=0.05
        ) as pool:

            async def work() -> None:
                async with pool.connection() as conn:
                    await conn.execute("SELECT pg_sleep(0.05)")

            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(work)
            assert pool.statistics().idle == 3
            await trio.sleep(0.3)  # several maintenance rounds
            assert pool.statistics().idle == 1
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")


async def test_open_transaction_committed_or_rolled_back_on_return(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        async with open_pool(empty_db_url, max_size=1, autocommit=False) as pool:
            async with pool.connection() as conn:
                await conn.execute("CREATE TABLE t (v int)")
            with pytest.raises(RuntimeError):
                async with pool.connection() as conn:
                    await conn.execute("INSERT INTO t VALUES (1)")
                    raise RuntimeError("handler failed")
            async with pool.connection() as conn:
                assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
                cur = await conn.execute("SELECT count(*) AS n FROM t")
                assert await cur.fetchone() == {"n": 0}
            assert pool.statistics().connections_made == 1


async def test_failed_query_in_autocommit_keeps_connection(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        async with open_pool(empty_db_url, max_size=1) as pool:
            with pytest.raises(psycopg.errors.UndefinedTable):
                async with pool.connection() as conn:
                    await conn.execute("SELECT * FROM missing")
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
            assert pool.statistics().connections_made == 1


async def test_cancelled_query_returns_a_clean_connection(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        async with open_pool(empty_db_url, max_size=1) as pool:
            with trio.move_on_after(0.2):
                async with pool.connection() as conn, conn.transaction():
                    await conn.execute("SELECT pg_sleep(10)")
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT 1 AS one")
                assert await cur.fetchone() == {"one": 1}
            assert pool.statistics().connections_made == 1


async def test_connection_killed_by_server_is_replaced(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        admin = await connect(empty_db_url, autocommit=True)
        try:
            async with open_pool(empty_db_url, max_size=2) as pool:
                async with pool.connection() as conn:
                    pid = conn.info.backend_pid
                # Killed while idle in the pool: the health check on checkout notices.
                await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                await trio.sleep(0.1)
                async with pool.connection() as conn:
                    assert conn.info.backend_pid != pid
                    await conn.execute("SELECT 1")
                stats = pool.statistics()
                assert stats.connections_discarded == 1 and stats.size == 1
        finally:
            await admin.close()


async def test_broken_in_use_connection_raises_database_unavailable(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        admin = await connect(empty_db_url, autocommit=True)
        try:
            async with open_pool(empty_db_url, max_size=1) as pool:
                with pytest.raises(DatabaseUnavailable):
                    async with pool.connection() as conn:
                        await admin.execute(
                            "SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,)
                        )
                        await conn.execute("SELECT 1")
                stats = pool.statistics()
                assert stats.size == 0 and stats.connections_discarded == 1
                assert stats.last_error is not None
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1")
        finally:
            await admin.close()


async def test_acquire_timeout(empty_db_url: str) -> None:
    with trio.fail_after(CAP):
        async with open_pool(empty_db_url, max_size=1, acquire_timeout=0.2) as pool:
            async with pool.connection():
                with pytest.raises(DatabaseUnavailable):
                    async with pool.connection():
                        pass


async def test_pool_not_running(empty_db_url: str) -> None:
    pool = Pool(empty_db_url)
    with pytest.raises(PoolClosed):
        async with pool.connection():
            pass


async def test_run_fails_when_database_is_unreachable(tmp_path: Path) -> None:
    pool = Pool(f"postgresql://postgres@/postgres?host={tmp_path}", connect_timeout=2)
    with trio.fail_after(CAP), pytest.raises(DatabaseUnavailable):
        await pool.run()


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: a concurrent pytest session chmods pytest-of-<user> to
    # 0700, locking out the server's system user when run as root.
    folder = Path(tempfile.mkdtemp(prefix="immich-trio-test-pg-"))
    try:
        yield folder / "data"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_pool_survives_database_restart(pg_data_dir: Path) -> None:
    server = EmbeddedPostgres(pg_data_dir, durable=False)
    with trio.fail_after(120):
        async with trio.open_nursery() as pg:
            url = await pg.start(server.run)
            async with open_pool(url, max_size=3, connect_timeout=2) as pool:
                async with pool.connection() as conn:
                    await conn.execute("CREATE TABLE t (v int)")
                    await conn.execute("INSERT INTO t VALUES (1)")

                pg.cancel_scope.cancel()  # stop the server (fast shutdown)
                await trio.sleep(0.1)
                for _ in range(3):
                    started = time.monotonic()
                    with pytest.raises(DatabaseUnavailable):
                        async with pool.connection() as conn:
                            await conn.execute("SELECT 1")
                    assert time.monotonic() - started < 4
                assert pool.statistics().connect_failures >= 1

                async with trio.open_nursery() as pg2:
                    assert await pg2.start(server.run) == url
                    async with pool.connection() as conn:
                        cur = await conn.execute("SELECT v FROM t")
                        assert await cur.fetchall() == [{"v": 1}]
                    pg2.cancel_scope.cancel()
