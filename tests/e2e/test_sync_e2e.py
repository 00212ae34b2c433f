"""Sync streams against the real server process: a client that drops mid-stream, slow clients
beside normal ones, and uploads while a stream is written."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import ServerProcess, call, wait_jobs_idle
from tests.e2e.test_workers_e2e import _photo, _upload
from tests.sync_client import MOBILE_TYPES, SyncClient

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
ASSETS = 6000  # with exif: ~8 MB of lines, more than the sockets buffer


class HttpClient:
    """The tiny async-looking client ``SyncClient`` needs, over blocking ``http.client``."""

    def __init__(self, port: int) -> None:
        self.port = port

    def _request(self, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(method, path, body=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return _Answer(response.status, dict(response.getheaders()), data)

    async def post(self, path: str, *, headers: dict[str, str], json: Any) -> Any:
        return self._request("POST", path, headers, json)


class _Answer:
    def __init__(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.status_code = status
        self.headers = {k.title(): v for k, v in headers.items()}
        self.data = data

    async def get_data(self) -> bytes:
        return self.data


def _run(coro: Any) -> Any:
    """Drive a coroutine that never really awaits (HttpClient blocks)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("coroutine suspended")


@pytest.fixture
def world(server_factory: Callable[..., ServerProcess], db_url: str) -> Iterator[tuple[ServerProcess, str, str]]:
    server = server_factory({"DB_URL": db_url})
    server.start()
    assert call(server.api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    login = call(server.api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    _fill(db_url, login.body["userId"], ASSETS)
    yield server, login.body["accessToken"], db_url


def _fill(url: str, owner: str, count: int) -> None:
    rng = random.Random(3)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        ids = [uuid.uuid4() for _ in range(count)]
        cols = '"id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime", "checksum", "checksumAlgorithm", "originalFileName"'
        with cur.copy(f"COPY asset ({cols}) FROM STDIN") as copy:
            for n, asset_id in enumerate(ids):
                at = start + timedelta(minutes=rng.randint(0, 2_000_000))
                copy.write_row((asset_id, owner, "IMAGE", f"/nowhere/{n}.jpg", at, at, at, os.urandom(20), "sha1", f"IMG_{n}.jpg"))
        with cur.copy('COPY asset_exif ("assetId", make, model, city, description) FROM STDIN') as copy:
            for asset_id in ids:
                copy.write_row((asset_id, "Canon", "EOS R5", "Lyon", "x" * 200))


def _session(server: ServerProcess, token: str) -> dict[str, str]:
    """A second session (device) of the admin: sync checkpoints are per session."""
    login = call(server.api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    assert login.status == 201
    return {"Authorization": f"Bearer {login.body['accessToken']}"}


def _open_stream(port: int, headers: dict[str, str], *, rcvbuf: int | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.connect()
    if rcvbuf is not None:
        assert conn.sock is not None
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    body = json.dumps({"types": MOBILE_TYPES})
    conn.request("POST", "/api/sync/stream", body=body, headers={**headers, "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    return response


def _rss_kb(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1])
    raise AssertionError("no VmRSS")


def _clean(server: ServerProcess, headers: dict[str, str]) -> SyncClient:
    phone = SyncClient(HttpClient(server.port), headers, ack_batch=500)
    _run(phone.sync())
    return phone


def test_disconnect_mid_stream_loses_nothing(world: tuple[ServerProcess, str, str]) -> None:
    server, token, _ = world
    headers = _session(server, token)
    phone = SyncClient(HttpClient(server.port), headers, ack_batch=500)
    # read part of a stream, store and ack what was read, then drop the connection
    response = _open_stream(server.port, headers)
    acks: dict[str, str] = {}
    for _ in range(2500):
        item = json.loads(response.readline())
        phone.apply(item)
        acks[item["type"]] = item["ack"]
    response.close()
    _run(phone.ack(list(acks.values())))
    assert len(phone.table("assets")) < ASSETS
    lines = _run(phone.sync())
    assert lines[-1]["type"] == "SyncCompleteV1"
    assert len([x for x in lines if x["type"] == "AssetV2"]) < ASSETS  # resumed, not restarted
    reference = _clean(server, _session(server, token))
    assert phone.store == reference.store
    assert len(phone.table("assets")) == ASSETS


def test_slow_clients_do_not_starve_others(world: tuple[ServerProcess, str, str]) -> None:
    server, token, _ = world
    assert server.proc is not None
    pid = server.proc.pid
    call(server.api, "GET", "/server/ping")
    before = _rss_kb(pid)
    # more slow phones than the pool has connections to spare: each reads ~1 KB/s
    slow = [_open_stream(server.port, _session(server, token), rcvbuf=4096) for _ in range(6)]
    read = [0] * len(slow)
    stop = threading.Event()

    def trickle(n: int) -> None:
        while not stop.is_set():
            chunk = slow[n].read1(1024) if slow[n].fp is not None else b""
            if not chunk:
                return
            read[n] += len(chunk)
            stop.wait(1.0)

    threads = [threading.Thread(target=trickle, args=(n,), daemon=True) for n in range(len(slow))]
    for thread in threads:
        thread.start()
    try:
        # normal requests answer, and a normal phone syncs all the way, meanwhile
        for _ in range(20):
            assert call(server.api, "GET", "/server/ping").status == 200
            assert call(server.api, "GET", "/users/me", headers={"Authorization": f"Bearer {token}"}).status == 200
        phone = _clean(server, _session(server, token))
        assert len(phone.table("assets")) == ASSETS
        assert all(thread.is_alive() for thread in threads)  # the slow ones are still reading
        total = sum(len(json.dumps(v)) for v in phone.table("assets").values())
        assert all(n < total for n in read)
        # the server buffers a bounded amount per slow stream, not the stream
        assert (_rss_kb(pid) - before) < 32 * 1024
    finally:
        stop.set()
        for response in slow:
            response.close()
        for thread in threads:
            thread.join(10)
    assert call(server.api, "GET", "/server/ping").status == 200


def test_uploads_during_a_stream_appear_in_the_next(world: tuple[ServerProcess, str, str]) -> None:
    server, token, _ = world
    headers = _session(server, token)
    phone = SyncClient(HttpClient(server.port), headers, ack_batch=500)
    uploaded: list[str] = []
    errors: list[BaseException] = []

    def burst() -> None:
        try:
            for n in range(12):
                status, body = _upload(server.api, token, f"burst{n}.jpg", _photo(100 + n, "Burst"))
                assert status == 201
                uploaded.append(body["id"])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=burst)
    thread.start()
    first = _run(phone.sync())
    thread.join(120)
    assert not errors
    # An asset that a job changes after the next stream's nowId comes in the stream after (as in
    # Immich): with the jobs done, the next stream must carry every upload; one committed during
    # the first stream below its acks would be missing for ever.
    wait_jobs_idle(server.api, {"Authorization": f"Bearer {token}"})
    second = _run(phone.sync())
    missing = set(uploaded) - set(phone.table("assets"))
    if missing:
        with psycopg.connect(world[2], autocommit=True) as conn:
            rows = conn.execute(
                'SELECT id, "updateId", "createdAt", "updatedAt", status, visibility FROM asset WHERE id = ANY(%s)',
                (list(missing),),
            ).fetchall()
            checkpoints = conn.execute("SELECT type, ack FROM session_sync_checkpoint").fetchall()
        def acks(items: list[dict[str, Any]]) -> list[str]:
            return [i["ack"] for i in items if i["type"] in ("AssetV2", "SyncCompleteV1")][-3:]
        raise AssertionError(f"missing {rows}; first {acks(first)}; second {acks(second)} {len(second)}; {checkpoints}")
    assert len(uploaded) == 12 and set(uploaded) <= set(phone.table("assets"))
    assert len(phone.table("assets")) == ASSETS + 12
