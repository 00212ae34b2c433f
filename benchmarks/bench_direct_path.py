"""CPU per request of the direct GET path, in process, without sockets or Hypercorn.

Drives ``GET /api/server/ping`` through ``http/direct.py``'s ASGI entry (request built from the
scope, the operation's answer, the two ASGI messages) and prints the median process-CPU
microseconds per request over interleaved batches. Process CPU time, not wall time: robust to
other load on a shared machine, where ``bench_requests.py``'s wrk figures scatter. Compare two
checkouts by running it with each on PYTHONPATH, alternately:

    PYTHONPATH=<checkout> python benchmarks/bench_direct_path.py [--requests 3000] [--batches 8]
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from typing import Any

import trio
from quart_trio import QuartTrio

from immich_trio.http import direct, registry, spec
from immich_trio.http.app import TAG_MODULES, _make_answer

SCOPE: dict[str, Any] = {
    "type": "http", "method": "GET", "scheme": "http", "path": "/api/server/ping", "query_string": b"",
    "root_path": "", "http_version": "1.1", "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 2283),
    "headers": [(b"host", b"127.0.0.1:2283"), (b"user-agent", b"wrk"), (b"accept", b"*/*")], "extensions": {},
}


def build() -> Any:
    import importlib

    for name in TAG_MODULES:
        importlib.import_module(f"immich_trio.http.{name}")
    op = spec.operations()["pingServer"]
    runtime = types.SimpleNamespace(maintenance=types.SimpleNamespace(active=False))  # all a ping reads
    app = QuartTrio("bench")
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    app.config["BODY_TIMEOUT"] = 24 * 3600
    table = direct.RouteTable([])
    table.add(op.path, _make_answer(runtime, op, registry.handlers()["pingServer"]))  # type: ignore[arg-type]
    return direct.DirectGets(app, table, None)  # type: ignore[arg-type]


async def measure(requests: int, batches: int) -> list[float]:
    entry = build()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await trio.sleep_forever()  # as Hypercorn: the client stays until the answer is sent
        raise AssertionError

    per_request = []
    for _ in range(batches):
        sent.clear()
        started = time.process_time()
        for _ in range(requests):
            await entry(SCOPE, receive, send)
        per_request.append((time.process_time() - started) / requests * 1e6)
        assert sent[-1]["body"] == b'{"res":"pong"}', sent[-1]
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    times = trio.run(measure, args.requests, args.batches)
    print(f"direct GET /api/server/ping: median {statistics.median(times):.1f} us CPU per request "
          f"(min {min(times):.1f}, {args.batches} batches of {args.requests})")


if __name__ == "__main__":
    main()
