"""The request path, measured against the floor of the stack.

One run measures, with `wrk` (Debian's package: apt-get install wrk), one client thread:
  floor          a bare Hypercorn trio-worker ASGI app answering a constant JSON body
  ping           GET /api/server/ping
  me (session)   GET /api/users/me with a session token (Authorization: Bearer)
  me (api key)   GET /api/users/me with an API key (x-api-key)
  asset          GET /api/assets/{id}
  buckets        GET /api/timeline/buckets of the small library that the upload made
each at 1, 8 and 32 connections, in interleaved rounds (floor, ours..., floor, ours...), and
prints req/s and the ratio to the floor measured in the same run. Before that it times a
40-photo `@immich/cli upload` (generated JPEGs) to the CLI's exit and to an idle job queue.

    python benchmarks/bench_requests.py [--seconds 3] [--rounds 2] [--server-pythonpath DIR]

Both servers are real processes on loopback; `--server-pythonpath` runs another checkout of
the server (e.g. the code before a change) under the same conditions.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import ServerProcess, call, free_port  # noqa: E402
from tests.e2e.test_cli_upload_e2e import _run_cli, _wait_idle, immich_cli_command  # noqa: E402

CONNECTIONS = (1, 8, 32)
PHOTOS = 40
PHOTO_SIZE = (2400, 1600)
ADMIN = {"email": "bench@example.com", "password": "bench-password", "name": "Bench"}
FLOOR_BODY = b'{"res":"pong"}'


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: the least an ASGI app on Hypercorn's trio worker can do per request."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json; charset=utf-8")]})
    await send({"type": "http.response.body", "body": FLOOR_BODY})


def serve_floor(port: int) -> None:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    trio.run(serve, floor_app, config)  # type: ignore[arg-type]


def start_floor() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-floor", str(port)], start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if call(url, "GET", "", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("floor app did not start")


def make_photos(folder: Path, count: int) -> None:
    """Distinct JPEGs with camera-like dimensions and EXIF dates (deterministic)."""
    from PIL import Image, ImageDraw

    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = Image.new("RGB", PHOTO_SIZE, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        draw = ImageDraw.Draw(image)
        for _ in range(60):
            x, y = rng.randrange(PHOTO_SIZE[0]), rng.randrange(PHOTO_SIZE[1])
            r = rng.randrange(20, 400)
            fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        exif = Image.Exif()
        exif[0x8769] = {0x9003: f"2024:{i % 12 + 1:02d}:{i % 28 + 1:02d} 12:00:00"}
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, exif=exif)
        (folder / f"photo-{i:03d}.jpg").write_bytes(out.getvalue())


def wrk(url: str, conns: int, seconds: float, headers: dict[str, str]) -> float:
    args = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    if re.search(r"Non-2xx or 3xx responses", out) or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


def upload(server: ServerProcess, key: str, session: dict[str, str], photos: Path, work: Path) -> tuple[float, float]:
    cli = immich_cli_command()
    env = {**os.environ, "IMMICH_CONFIG_DIR": str(work / "cli-config")}
    _run_cli(cli, ["login", server.api, key], env)
    started = time.monotonic()
    out = _run_cli(cli, ["upload", "--recursive", str(photos)], env)
    cli_done = time.monotonic() - started
    assert f"Successfully uploaded {PHOTOS} new asset" in out, out
    _wait_idle(server.api, session)
    return cli_done, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one wrk measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server-pythonpath", default=str(ROOT))
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    seconds = max(1, round(args.seconds))
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "IMMICH_"))}
        port = free_port()
        env.update(IMMICH_PORT=str(port), IMMICH_HOST="127.0.0.1", IMMICH_MEDIA_LOCATION=str(work / "media"),
                   IMMICH_LOG_LEVEL="warn", PYTHONPATH=args.server_pythonpath)
        server = ServerProcess(media=work / "media", port=port, env=env, log_path=work / "server.log")
        floor_proc, floor_url = start_floor()
        try:
            server.start()
            api = server.api
            call(api, "POST", "/auth/admin-sign-up", ADMIN)
            token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
                "accessToken"]
            session = {"Authorization": f"Bearer {token}"}
            key = call(api, "POST", "/api-keys", {"name": "bench", "permissions": ["all"]}, session).body["secret"]
            make_photos(work / "photos", PHOTOS)
            cli_s, idle_s = upload(server, key, session, work / "photos", work)
            print(f"{PHOTOS}-photo @immich/cli upload: CLI exit {cli_s:.2f} s, all jobs done {idle_s:.2f} s", flush=True)
            buckets = call(api, "GET", "/timeline/buckets", headers=session).body
            month = buckets[0]["timeBucket"]
            asset_id = call(api, "GET", f"/timeline/bucket?timeBucket={month}", headers=session).body["id"][0]
            targets: list[tuple[str, str, dict[str, str]]] = [
                ("ping", api + "/server/ping", {}),
                ("users/me (session)", api + "/users/me", session),
                ("users/me (api key)", api + "/users/me", {"x-api-key": key}),
                ("assets/{id}", api + f"/assets/{asset_id}", session),
                ("timeline/buckets", api + "/timeline/buckets", session),
            ]
            for _, url, headers in targets:  # warm up: prepared statements, caches
                wrk(url, 8, 1, headers)
            floor: dict[int, list[float]] = {c: [] for c in CONNECTIONS}
            ours: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.rounds):
                for conns in CONNECTIONS:
                    for name, url, headers in targets:
                        floor[conns].append(wrk(floor_url, conns, seconds, {}))
                        ours.setdefault((name, conns), []).append(wrk(url, conns, seconds, headers))
        finally:
            server.stop()
            server.kill_all()
            floor_proc.send_signal(signal.SIGTERM)
            floor_proc.wait(10)
    print(f"\nwrk -t1 -d{seconds}s, {args.rounds} interleaved round(s); median req/s; ratio to the floor's median")
    header = f"{'':22}" + "".join(f"{f'c={c}':>20}" for c in CONNECTIONS)
    print(header)
    print(f"{'floor (bare hypercorn)':22}" + "".join(f"{statistics.median(floor[c]):>14.0f} 1.00x" for c in CONNECTIONS))
    for name, _, _ in targets:
        cells = []
        for conns in CONNECTIONS:
            rps = statistics.median(ours[(name, conns)])
            cells.append(f"{rps:>14.0f} {rps / statistics.median(floor[conns]):.2f}x")
        print(f"{name:22}" + "".join(cells))


if __name__ == "__main__":
    main()
