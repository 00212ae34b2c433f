"""Organising at scale on the real server: bulk tagging 10,000 assets and 1,000 stacks.

    python benchmarks/bench_organising.py [--db-url URL] [--assets 10000] [--stacks 1000]

Starts a PostgreSQL (``--db-url``'s server, else an embedded one in a temporary folder), fills
a fresh database by bulk SQL (one user, ``--assets`` assets plus two per stack), then runs
``immich-trio serve`` as a separate process (the ``api`` worker only, so no job runs in the
background) and drives it over HTTP:

- ``PUT /api/tags/assets`` (two tags on every asset) and ``PUT /api/tags/{id}/assets``, each
  at a tenth of the assets and at all of them;
- ``--stacks`` calls of ``POST /api/stacks`` (two assets each), then one ``DELETE /api/stacks``.

It prints wall time and the SQL statements each request sent. Statements are counted on the
wire: the server reaches PostgreSQL through a small proxy in this script that counts the
frontend's ``Execute`` and ``Query`` protocol messages (one per statement; psycopg sends every
``execute`` as Parse/Bind/Execute). It works on any PostgreSQL, the embedded one included, and
needs neither ``pg_stat_statements`` nor the server log. Set-based SQL shows as the same count
at both sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timeline import postgres_server, with_database
from bench_upload import call, free_port, stop_server, wait_ready

from immich_trio import crypto
from immich_trio.sql.migrate import migrate_url

STARTUP_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest: answered by one byte
COUNTED = (b"E", b"Q")  # Execute (extended protocol), Query (simple protocol)
CHUNK = 65536


class StatementCounter:
    """A TCP proxy in front of PostgreSQL that counts the statements its clients send."""

    def __init__(self, upstream: tuple[str, int] | str) -> None:
        self.upstream = upstream
        self.count = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            if isinstance(self.upstream, str):  # a unix socket (the embedded PostgreSQL)
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.connect(self.upstream)
            else:
                server = socket.create_connection(self.upstream)
            threading.Thread(target=self._frontend, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(CHUNK):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            target.close()

    def _frontend(self, client: socket.socket, server: socket.socket) -> None:
        buf = b""
        startup = True
        try:
            while chunk := client.recv(CHUNK):
                server.sendall(chunk)
                buf += chunk
                while True:
                    if startup:  # untyped: length, then a protocol code
                        if len(buf) < 8:
                            break
                        (length, code) = struct.unpack("!ii", buf[:8])
                        if len(buf) < length:
                            break
                        buf = buf[length:]
                        startup = code in STARTUP_CODES
                        continue
                    if len(buf) < 5:
                        break
                    (length,) = struct.unpack("!i", buf[1:5])
                    if len(buf) < 1 + length:
                        break
                    if buf[:1] in COUNTED:
                        with self._lock:
                            self.count += 1
                    buf = buf[1 + length:]
        except OSError:
            pass
        finally:
            server.close()

    def measure(self, fn: Callable[..., Any], *args: Any) -> tuple[float, int, Any]:
        """(seconds, statements, result) of one call."""
        before = self.count
        start = time.perf_counter()
        result = fn(*args)
        seconds = time.perf_counter() - start
        time.sleep(0.05)  # the last messages of the request reach the counter
        return seconds, self.count - before, result


def upstream(url: str) -> tuple[str, int] | str:
    """Where PostgreSQL listens, as libpq resolved ``url``: a TCP address or a unix socket."""
    with psycopg.connect(url) as conn:
        host, port = conn.info.host, conn.info.port
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


def fill(url: str, assets: int, stacks: int) -> tuple[list[str], list[str], str]:
    """One user with ``assets`` assets to tag and ``2 * stacks`` to stack; (tag ids, stack
    ids, session token)."""
    token = crypto.new_token()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
            ("bench@example.com", "", "bench"),
        ).fetchone()
        assert row is not None
        user_id = str(row[0])
        conn.execute(
            'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
            (crypto.hash_token(token), user_id, "bench", "Linux"),
        )
        conn.execute(
            'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
            ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
            " SELECT gen_random_uuid(), %s, 'IMAGE', '/nowhere/' || g, 'a.jpg',"
            " sha256(g::text::bytea), 'sha1', now() - g * interval '1 minute', now(), now()"
            " FROM generate_series(1, %s) g",
            (user_id, assets + 2 * stacks),
        )
        ids = [str(i) for (i,) in conn.execute('SELECT id FROM asset ORDER BY "fileCreatedAt" DESC')]
    return ids[:assets], ids[assets:], token


def report(label: str, seconds: float, statements: int) -> None:
    print(f"{label:<44} {seconds * 1000:9.1f} ms {statements:6d} statements")


def bench(base: str, counter: StatementCounter, token: str, tag_ids: list[str], stack_ids: list[str]) -> None:
    auth = {"Authorization": f"Bearer {token}"}

    def api(method: str, path: str, body: Any = None) -> Any:
        return call(base, method, path, body, headers=auth)

    seconds, statements, _ = counter.measure(api, "GET", "/api/users/me")
    report("GET /api/users/me (baseline: credentials)", seconds, statements)

    tenth = tag_ids[: max(1, len(tag_ids) // 10)]
    for size, ids in ((len(tenth), tenth), (len(tag_ids), tag_ids)):
        pair = api("PUT", "/api/tags", {"tags": [f"Bulk{size}/A", f"Bulk{size}/B"]})
        seconds, statements, body = counter.measure(
            api, "PUT", "/api/tags/assets", {"tagIds": [t["id"] for t in pair], "assetIds": ids}
        )
        assert body == {"count": 2 * size}, body
        report(f"PUT /api/tags/assets  2 tags x {size} assets", seconds, statements)
        [one] = api("PUT", "/api/tags", {"tags": [f"Each{size}"]})
        seconds, statements, body = counter.measure(
            api, "PUT", f"/api/tags/{one['id']}/assets", {"ids": ids}
        )
        assert len(body) == size and all(r["success"] for r in body)
        report(f"PUT /api/tags/{{id}}/assets  {size} assets", seconds, statements)

    times: list[float] = []
    counts: list[int] = []
    created: list[str] = []
    for i in range(0, len(stack_ids) - 1, 2):
        seconds, statements, body = counter.measure(
            api, "POST", "/api/stacks", {"assetIds": stack_ids[i:i + 2]}
        )
        times.append(seconds)
        counts.append(statements)
        created.append(body["id"])
    total = sum(times)
    print(f"{'POST /api/stacks x ' + str(len(created)):<44} {total:9.2f} s  "
          f"p50 {statistics.median(times) * 1000:.1f} ms; statements per call "
          f"min {min(counts)} median {statistics.median(counts):.0f} max {max(counts)}")
    seconds, statements, _ = counter.measure(api, "DELETE", "/api/stacks", {"ids": created})
    report(f"DELETE /api/stacks  {len(created)} stacks", seconds, statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a PostgreSQL server (role allowed to create databases)")
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--stacks", type=int, default=1_000)
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = "bench_organising_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        work = Path(tempfile.mkdtemp(prefix="bench-organising-"))
        proc = None
        try:
            trio.run(migrate_url, url)
            tag_ids, stack_ids, token = fill(url, args.assets, args.stacks)
            counter = StatementCounter(upstream(url))
            parts = urlsplit(url)
            netloc = parts.netloc.rsplit("@", 1)
            host = f"127.0.0.1:{counter.port}"
            proxied = urlunsplit(parts._replace(
                netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host,
                query="sslmode=disable",
            ))
            port = free_port()
            env = {
                **os.environ, "DB_URL": proxied, "IMMICH_MEDIA_LOCATION": str(work / "media"),
                "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1",
                "IMMICH_WORKERS_EXCLUDE": "microservices",
            }
            log = (work / "server.log").open("wb")
            proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, proc)
            time.sleep(1)  # let the start-up queries settle
            bench(base, counter, token, tag_ids, stack_ids)
        finally:
            if proc is not None:
                stop_server(proc)
            shutil.rmtree(work, ignore_errors=True)
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
