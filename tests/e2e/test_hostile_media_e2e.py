"""Hostile media and a killed server, against the real ``immich-trio serve`` process.

- exiftool's ``-stay_open`` helper dies with a server killed by SIGKILL, and a later server of
  the same media folder sweeps helpers left behind.
- Decompression-bomb PNGs fail their thumbnail job once, with a reason, while the server's RSS
  stays bounded, ping answers and a normal photo still gets its thumbnail.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from typing import Any

import psutil
import psycopg

from immich_trio.actors.metadata.lifeline import OWNER_ENV, SERVER_ENV
from immich_trio.sql.embedded import socket_dir_for, url_for
from tests.e2e.conftest import ServerProcess, call
from tests.e2e.test_crash_e2e import ADMIN, _jpeg, _upload

BOMBS = 10
#: Decode memory budget of the server under test, and the bound on the server process's RSS
#: growth over its idle RSS while the bombs are processed. Decoding runs in codec worker
#: processes (thumbnailer/workers.py), so the server itself grows by ~1 MB (uploads, job rows);
#: when it decoded in its own threads it grew by ~450 MB (glibc arenas of the decoding threads
#: and freed pixel buffers kept in the heap), and the original defect was 13-20 GB. Measured with
#: benchmarks/bench_bomb_rss.py. 64 MB leaves room for a loaded CI machine and fails any decode
#: in the server process.
DECODE_BUDGET_MB = 256
RSS_BOUND_BYTES = 64 * 1024 * 1024
#: Longest ping answer tolerated while the bombs are processed.
PING_BOUND_SECONDS = 2.0


def _key(api: str) -> tuple[str, dict[str, str]]:
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    login = {"email": ADMIN["email"], "password": ADMIN["password"]}
    session = {"Authorization": f"Bearer {call(api, 'POST', '/auth/login', login).body['accessToken']}"}
    key = call(api, "POST", "/api-keys", {"name": "k", "permissions": ["all"]}, session).body["secret"]
    return key, session


def _exiftool_helpers(pid: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(pid).children(recursive=True)
        if "-stay_open" in p.cmdline()
    ]


def _gone(proc: psutil.Process) -> bool:
    try:
        # Orphans are reaped by init; where init does not reap, a zombie is gone too.
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_exiftool_dies_with_a_killed_server_and_strays_are_swept(server: ServerProcess) -> None:
    key, _ = _key(server.api)
    assert _upload(server.api, key, "a.jpg", _jpeg(1, (64, 48)))[0] == 201
    assert server.proc is not None
    server_pid = server.proc.pid
    _wait_until(lambda: _exiftool_helpers(server_pid), 30, "exiftool never started")
    helpers = _exiftool_helpers(server_pid)

    os.kill(server_pid, signal.SIGKILL)  # the server alone, not its process group
    server.proc.wait(10)
    server.proc = None
    _wait_until(lambda: all(_gone(p) for p in helpers), 10, f"exiftool outlived the server: {helpers}")

    # A helper that escaped (its watcher killed too): marked with this media folder and a
    # server pid that no longer runs. The next server of this media folder kills it.
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "exiftool"],
        env={**os.environ, OWNER_ENV: str(server.media.absolute()), SERVER_ENV: str(server_pid)},
        start_new_session=True,
    )
    # A helper of a live server (here: this test process) is left alone.
    live = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "exiftool"],
        env={**os.environ, OWNER_ENV: str(server.media.absolute()), SERVER_ENV: str(os.getpid())},
        start_new_session=True,
    )
    try:
        server.start()
        assert _upload(server.api, key, "b.jpg", _jpeg(2, (64, 48)))[0] == 201
        _wait_until(lambda: stray.poll() is not None, 30, "the stray exiftool was not swept")
        assert live.poll() is None, "a helper of a live server was killed"
    finally:
        for proc in (stray, live):
            proc.kill()
            proc.wait(10)


def _png_bomb(seed: int) -> bytes:
    """A PNG whose header claims 65000x65000 RGB pixels, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 65000, 65000, 8, 2, 0, 0, 0)
    text = chunk(b"tEXt", b"Comment\x00" + str(seed).encode())  # distinct files, no dedupe
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + text + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_png_bombs_fail_once_with_bounded_memory(server_factory: Any) -> None:
    server: ServerProcess = server_factory({"IMMICH_TRIO_DECODE_MEMORY_MB": str(DECODE_BUDGET_MB)})
    server.start()
    api = server.api
    key, session = _key(api)
    assert server.proc is not None
    pid = server.proc.pid
    time.sleep(1.0)
    idle_rss = _rss(pid)

    peak = idle_rss
    slowest_ping = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, slowest_ping
        while not stop.is_set():
            peak = max(peak, _rss(pid))
            started = time.monotonic()
            assert call(api, "GET", "/server/ping", timeout=10).status == 200
            slowest_ping = max(slowest_ping, time.monotonic() - started)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        bomb_ids = []
        for i in range(BOMBS):
            status, body = _upload(api, key, f"bomb-{i}.png", _png_bomb(i))
            assert status == 201, body
            bomb_ids.append(body["id"])

        def settled() -> bool:
            jobs = call(api, "GET", "/jobs", headers=session).body
            return sum(q["jobCounts"]["active"] + q["jobCounts"]["waiting"] + q["jobCounts"]["delayed"] for q in jobs.values()) == 0

        _wait_until(settled, 120, "the bomb jobs never settled")
    finally:
        stop.set()
        sampler.join(15)
    assert peak - idle_rss < RSS_BOUND_BYTES, f"RSS grew by {(peak - idle_rss) >> 20} MB"
    assert slowest_ping < PING_BOUND_SECONDS, f"ping took {slowest_ping:.1f}s"
    print(f"bombs: idle RSS {idle_rss >> 20} MB, peak {peak >> 20} MB, slowest ping {slowest_ping:.2f}s")

    url = url_for(socket_dir_for((server.media / "postgres").absolute()), "immich")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            'SELECT "assetId"::text, name, status, attempts, error FROM immich_trio.job '
            "WHERE \"assetId\" = ANY(%s::uuid[]) AND status = 'failed'",
            (bomb_ids,),
        ).fetchall()
    failed = {row[0]: row for row in rows}
    assert set(failed) == set(bomb_ids), rows
    for asset_id, name, _, attempts, error in failed.values():
        assert attempts == 1, (asset_id, name, attempts, error)
        assert error, (asset_id, name)

    # A normal photo afterwards still gets its thumbnail.
    status, body = _upload(api, key, "after.jpg", _jpeg(3, (640, 480)))
    assert status == 201

    def has_thumbnail() -> bool:
        return call(api, "GET", f"/assets/{body['id']}/thumbnail", headers=session).status == 200

    _wait_until(has_thumbnail, 60, "the photo after the bombs got no thumbnail")
