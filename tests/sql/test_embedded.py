"""The embedded PostgreSQL as a supervised child: start, die, restart, stale pid files."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import trio

from immich_trio.sql.driver import connect
from immich_trio.sql.embedded import EmbeddedPostgres, run_embedded_postgres, shared_buffers_mb
from immich_trio.sql.errors import EmbeddedPostgresDied

CAP = 120  # initdb on a busy 2-core machine takes seconds


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: a concurrent pytest session chmods pytest-of-<user> to
    # 0700, locking out the server's system user when run as root.
    folder = Path(tempfile.mkdtemp(prefix="immich-trio-test-pg-"))
    try:
        yield folder / "data"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def query_one(url: str, sql: str) -> object:
    conn = await connect(url, autocommit=True)
    try:
        cur = await conn.execute(sql)
        row = await cur.fetchone()
        assert row is not None
        return next(iter(row.values()))
    finally:
        await conn.close()


async def test_start_kill_restart_keeps_data(pg_data_dir: Path) -> None:
    server = EmbeddedPostgres(pg_data_dir, durable=False)
    with trio.fail_after(CAP):
        with pytest.RaisesGroup(EmbeddedPostgresDied):
            async with trio.open_nursery() as nursery:
                url = await nursery.start(server.run)
                assert url.startswith("postgresql://postgres:@/immich?host=/")
                assert len(str(server.socket_dir)) < 60
                assert await query_one(url, "SELECT current_database()") == "immich"
                assert await query_one(url, "SHOW server_encoding") == "UTF8"
                assert await query_one(url, "SELECT upper('é')") == "É"
                # Memory and WAL as Immich's own database image has them; the planner's defaults.
                assert await query_one(url, "SHOW max_wal_size") == "5GB"
                assert await query_one(url, "SHOW random_page_cost") == "4"
                assert await query_one(url, "SHOW wal_compression") == "pglz"  # what "on" means
                assert await query_one(url, "SHOW shared_buffers") == f"{shared_buffers_mb()}MB"
                conn = await connect(url, autocommit=True)
                await conn.execute("CREATE TABLE kept (v text)")
                await conn.execute("INSERT INTO kept VALUES ('survives')")
                await conn.close()
                assert server.pid is not None
                os.kill(server.pid, signal.SIGKILL)
                await trio.sleep_forever()  # run() must raise
        assert server.pid is None
        assert (pg_data_dir / "postmaster.pid").exists()  # stale, after the crash

        async with trio.open_nursery() as nursery:
            url2 = await nursery.start(run_embedded_postgres, pg_data_dir)
            assert url2 == url
            assert await query_one(url, "SELECT v FROM kept") == "survives"
            nursery.cancel_scope.cancel()


def test_shared_buffers_follow_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {"SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    for memory_mb, expected in ((16384, 512), (1024, 256), (256, 128)):
        pages["SC_PHYS_PAGES"] = memory_mb * 256
        assert shared_buffers_mb() == expected


async def test_cancel_stops_server_and_stale_pid_file_is_handled(pg_data_dir: Path) -> None:
    server = EmbeddedPostgres(pg_data_dir, durable=False)
    with trio.fail_after(CAP):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            pid = server.pid
            assert pid is not None
            nursery.cancel_scope.cancel()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert not (pg_data_dir / "postmaster.pid").exists()  # clean shutdown

        # A pid file naming a live process that isn't our server (pid reuse): postgres
        # alone would refuse to start.
        (pg_data_dir / "postmaster.pid").write_text(f"1\n{pg_data_dir}\n")
        async with trio.open_nursery() as nursery:
            url = await nursery.start(server.run)
            assert await query_one(url, "SELECT 1") == 1
            nursery.cancel_scope.cancel()
