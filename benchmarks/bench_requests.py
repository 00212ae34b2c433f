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
40-photo `@immich/cli upload` (generated JPEGs) to the CLI's exit and to an idle job queue,
with the server's CPU meanwhile, once the fresh server is idle (`--fresh`: at once, beside its
one-time start-up work), and the same CLI run against `cli_floor.py` (a server answering
constants: the CLI's own share of the time).

    python benchmarks/bench_requests.py [--seconds 3] [--rounds 2] [--upload-runs 3] [--fresh]
                                        [--baseline-pythonpath DIR]

`--upload-runs 0` sets each version up once (the library the targets read) and reports no
upload time; with it, `--targets ping,users` needs no library and uploads nothing. Servers are real processes (`python -m immich_trio serve`, embedded PostgreSQL, temporary
media folders) on loopback. `--baseline-pythonpath` also runs another checkout of the server
(e.g. `git archive` of the commit before a change), interleaved with this one: uploads
alternate between fresh servers of each, and every wrk round measures both.
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

import attrs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cli_floor import cli_floor_app  # noqa: E402
from tests.e2e.conftest import ServerProcess, call, free_port, wait_jobs_idle  # noqa: E402
from tests.e2e.test_cli_upload_e2e import PROCESSING_TIMEOUT, _run_cli, immich_cli_command  # noqa: E402

CONNECTIONS = (1, 8, 32)
PHOTOS = 40
PHOTO_SIZE = (2400, 1600)
ADMIN = {"email": "bench@example.com", "password": "bench-password", "name": "Bench"}
FLOOR_BODY = b'{"res":"pong"}'
LIBRARY_TARGETS = ("assets/{id}", "timeline/buckets")  # the targets that read the uploaded library
QUIET_CPU = 0.1  # core-seconds per second under which a server counts as idle
QUIET_TIMEOUT = 180.0


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


def serve_floor(port: int, app: Any = floor_app) -> None:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.keep_alive_timeout = 75
    trio.run(serve, app, config)


def start_floor(flag: str = "--serve-floor") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, flag, str(port)], start_new_session=True)
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


def _processes() -> dict[int, tuple[int, int, int, bytes]]:
    """pid -> (parent pid, process group, CPU ticks (user + system), command line)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        # after the name: state, ppid, pgrp, ... utime and stime at 11 and 12
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]), cmdline)
    return found


def group_cpu_seconds(pgid: int, media: Path | None = None) -> float:
    """CPU time (user + system) of every process in a process group and, given the server's
    media folder, of its embedded PostgreSQL (its own session: the postmaster that serves
    ``<media>/postgres`` and the backends it forked)."""
    processes = _processes()
    postmasters = set()
    if media is not None:
        data = str(media / "postgres").encode()
        postmasters = {pid for pid, (_, _, _, cmd) in processes.items() if b"postgres" in cmd and data in cmd.split(b"\0")}
    ticks = sum(
        cpu for pid, (ppid, pgrp, cpu, _) in processes.items()
        if pgrp == pgid or pid in postmasters or ppid in postmasters
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_quiet(server: ServerProcess) -> float:
    """Wait until the server and its PostgreSQL use less than ``QUIET_CPU`` of a core over a
    second (a fresh server's one-time start-up work, the geodata import, has ended); seconds waited."""
    assert server.proc is not None
    started = time.monotonic()
    before = group_cpu_seconds(server.proc.pid, server.media)
    while time.monotonic() - started < QUIET_TIMEOUT:
        time.sleep(1.0)
        after = group_cpu_seconds(server.proc.pid, server.media)
        if after - before < QUIET_CPU:
            break
        before = after
    return time.monotonic() - started


@attrs.frozen
class Load:
    rps: float
    cpu_us: float  # server CPU per request: robust to other load on a shared machine


def wrk(url: str, conns: int, seconds: float, headers: dict[str, str], pgid: int | None = None,
        media: Path | None = None) -> Load:
    args = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    cpu = group_cpu_seconds(pgid, media) if pgid else 0.0
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    cpu = group_cpu_seconds(pgid, media) - cpu if pgid else 0.0
    if re.search(r"Non-2xx or 3xx responses", out) or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    count = re.search(r"([0-9]+) requests in", out)
    assert rps and count, out
    return Load(float(rps.group(1)), cpu * 1e6 / max(1, int(count.group(1))))


@attrs.define
class Measured:
    """One server under test, set up with an admin, an API key and the uploaded library."""

    label: str
    server: ServerProcess
    targets: list[tuple[str, str, dict[str, str]]]
    cli_seconds: float
    idle_seconds: float
    cli_cpu: float = 0.0  # the server's CPU (with its PostgreSQL) from the CLI's start to its exit
    quiet_seconds: float = 0.0  # waited after start for the server to go idle (0: not waited)


def set_up(label: str, pythonpath: str, work: Path, photos: Path, upload: bool = True,
           settle: bool = True) -> Measured:
    """A fresh server (new media folder and database) that has received the CLI upload; with
    ``upload`` false, an empty library and only the targets that need none (ping, users/me).

    With ``settle``, the upload starts once the server is idle: a fresh server's one-time
    start-up work (the reverse-geocoding import, ~15 s of server and PostgreSQL CPU here) would
    otherwise run beside it; without it, the upload times a server's very first minute."""
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=work))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "IMMICH_"))}
    port = free_port()
    env.update(IMMICH_PORT=str(port), IMMICH_HOST="127.0.0.1", IMMICH_MEDIA_LOCATION=str(folder / "media"),
               IMMICH_LOG_LEVEL="warn", PYTHONPATH=pythonpath)
    server = ServerProcess(media=folder / "media", port=port, env=env, log_path=folder / "server.log")
    server.start()
    api = server.api
    call(api, "POST", "/auth/admin-sign-up", ADMIN)
    login = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    session = {"Authorization": f"Bearer {login.body['accessToken']}"}
    key = call(api, "POST", "/api-keys", {"name": "bench", "permissions": ["all"]}, session).body["secret"]
    targets = [
        ("ping", api + "/server/ping", {}),
        ("users/me (session)", api + "/users/me", session),
        ("users/me (api key)", api + "/users/me", {"x-api-key": key}),
    ]
    if not upload:
        return Measured(label, server, targets, 0.0, 0.0)
    cli = immich_cli_command()
    cli_env = {**os.environ, "IMMICH_CONFIG_DIR": str(folder / "cli-config")}
    _run_cli(cli, ["login", api, key], cli_env)
    # No CLIP model here and no network to fetch one: smart-search jobs would fail and retry
    # for ~30 s after the media work is done, which a version without them never waits for.
    config = call(api, "GET", "/system-config", headers=session).body
    if config.get("machineLearning", {}).get("enabled"):
        config["machineLearning"]["enabled"] = False
        assert call(api, "PUT", "/system-config", config, session).status == 200
    quiet_seconds = wait_quiet(server) if settle else 0.0
    assert server.proc is not None
    cpu = group_cpu_seconds(server.proc.pid, server.media)
    started = time.monotonic()
    out = _run_cli(cli, ["upload", "--recursive", str(photos)], cli_env)
    cli_seconds = time.monotonic() - started
    cpu = group_cpu_seconds(server.proc.pid, server.media) - cpu
    assert f"Successfully uploaded {PHOTOS} new asset" in out, out
    wait_jobs_idle(api, session, PROCESSING_TIMEOUT)
    idle_seconds = time.monotonic() - started
    month = call(api, "GET", "/timeline/buckets", headers=session).body[0]["timeBucket"]
    asset_id = call(api, "GET", f"/timeline/bucket?timeBucket={month}", headers=session).body["id"][0]
    targets += [
        ("assets/{id}", api + f"/assets/{asset_id}", session),
        ("timeline/buckets", api + "/timeline/buckets", session),
    ]
    return Measured(label, server, targets, cli_seconds, idle_seconds, cpu, quiet_seconds)


def time_cli_floor(url: str, work: Path, photos: Path) -> float:
    """Seconds of the same CLI upload against ``cli_floor_app`` (a server that answers constants)."""
    cli = immich_cli_command()
    cli_env = {**os.environ, "IMMICH_CONFIG_DIR": tempfile.mkdtemp(prefix="cli-floor-", dir=work)}
    _run_cli(cli, ["login", url.rstrip("/") + "/api", "constant-key"], cli_env)
    started = time.monotonic()
    out = _run_cli(cli, ["upload", "--recursive", str(photos)], cli_env)
    seconds = time.monotonic() - started
    assert f"Successfully uploaded {PHOTOS} new asset" in out, out
    return seconds


def stop(measured: Measured) -> None:
    measured.server.stop()
    measured.server.kill_all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one wrk measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--upload-runs", type=int, default=3, help="fresh servers per version for the upload")
    parser.add_argument("--baseline-pythonpath", help="another checkout (e.g. before a change), measured alike")
    parser.add_argument("--connections", default=",".join(map(str, CONNECTIONS)), help="e.g. 8 or 1,8,32")
    parser.add_argument("--targets", default="", help="only targets whose name starts with one of these (comma list)")
    parser.add_argument("--fresh", action="store_true",
                        help="upload at once after start, beside the server's one-time start-up work")
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-cli-floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    if args.serve_cli_floor:
        serve_floor(args.serve_cli_floor, cli_floor_app)
        return
    seconds = max(1, round(args.seconds))
    connections = tuple(int(c) for c in args.connections.split(","))
    wanted = tuple(t for t in args.targets.split(",") if t)
    versions = [("this", str(ROOT))]
    if args.baseline_pythonpath:
        versions.append(("baseline", args.baseline_pythonpath))
    uploads: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in versions}
    cli_floor: list[float] = []
    floor: dict[int, list[Load]] = {c: [] for c in connections}
    ours: dict[tuple[str, str, int], list[Load]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp:
        work = Path(tmp)
        # `python -m` puts the working directory first on sys.path: run the servers from an
        # empty one, so that each imports the checkout its PYTHONPATH names.
        os.chdir(work)
        # The library is made only when an upload is timed or a target reads it.
        needs_library = bool(args.upload_runs) or any(name.startswith(wanted or ("",)) for name in LIBRARY_TARGETS)
        if needs_library:
            make_photos(work / "photos", PHOTOS)
        running: list[Measured] = []
        floor_proc, floor_url = start_floor()
        cli_floor_proc, cli_floor_url = start_floor("--serve-cli-floor") if args.upload_runs else (None, "")
        try:
            # Interleaved: this, baseline, this, baseline... With --upload-runs 0 each version is
            # still set up once (the library the targets read), its upload time not reported.
            set_ups = max(1, args.upload_runs)
            for run in range(set_ups):
                for label, pythonpath in versions:
                    measured = set_up(label, pythonpath, work, work / "photos", upload=needs_library,
                                      settle=not args.fresh)
                    if args.upload_runs:
                        uploads[label].append((measured.cli_seconds, measured.idle_seconds, measured.cli_cpu))
                        print(f"{label}: {PHOTOS}-photo @immich/cli upload: CLI exit {measured.cli_seconds:.2f} s, "
                              f"all jobs done {measured.idle_seconds:.2f} s, server CPU to the CLI's exit "
                              f"{measured.cli_cpu:.2f} s (idle {measured.quiet_seconds:.1f} s after start)", flush=True)
                    if run == set_ups - 1:
                        measured.targets = [t for t in measured.targets if t[0].startswith(wanted or ("",))]
                        running.append(measured)
                    else:
                        stop(measured)
                if args.upload_runs:
                    cli_floor.append(time_cli_floor(cli_floor_url, work, work / "photos"))
                    print(f"cli floor: {PHOTOS}-photo @immich/cli upload to a constant server: CLI exit "
                          f"{cli_floor[-1]:.2f} s", flush=True)
            for measured in running:
                for _, url, headers in measured.targets:  # warm up: prepared statements, caches
                    wrk(url, 8, 1, headers)
            for round_ in range(args.rounds):
                for conns in connections:
                    # Every other round in reverse (A B, B A...): a drift in the machine's load
                    # within a round favours no target, e.g. the session over the API key.
                    order = list(enumerate(running[0].targets))
                    for index, (name, _, _) in order if round_ % 2 == 0 else reversed(order):
                        floor[conns].append(wrk(floor_url, conns, seconds, {}, floor_proc.pid))
                        for measured in running:
                            _, url, headers = measured.targets[index]
                            assert measured.server.proc is not None
                            ours.setdefault((name, measured.label, conns), []).append(
                                wrk(url, conns, seconds, headers, measured.server.proc.pid, measured.server.media))
        finally:
            for measured in running:
                stop(measured)
            for proc in (floor_proc, cli_floor_proc):
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(10)
    if args.upload_runs:
        when = "at once after start" if args.fresh else "once idle after start"
        print(f"\n{PHOTOS}-photo @immich/cli upload, median of {args.upload_runs} fresh server(s) per version, {when}:")
    for label, times in uploads.items() if args.upload_runs else ():
        print(f"  {label:9} CLI exit {statistics.median(t[0] for t in times):.2f} s, "
              f"all jobs done {statistics.median(t[1] for t in times):.2f} s, "
              f"server CPU to the CLI's exit {statistics.median(t[2] for t in times):.2f} s")
    if args.upload_runs and "baseline" in uploads:
        ratio = statistics.median(t[0] for t in uploads["baseline"]) / statistics.median(t[0] for t in uploads["this"])
        print(f"  this finishes the CLI {ratio:.2f}x sooner than the baseline")
    if cli_floor:
        print(f"  {'cli floor':9} CLI exit {statistics.median(cli_floor):.2f} s (a server answering constants: "
              "the CLI's own share)")
    if not args.rounds or not running or not running[0].targets:
        return  # uploads only
    print(f"\nwrk -t1 -d{seconds}s, {args.rounds} interleaved round(s); medians. Each cell: req/s, its ratio to")
    print("the floor's req/s; then the server's CPU per request (server + PostgreSQL), the floor's CPU per")
    print("request divided by it (1.00x = as cheap as the floor; this one is robust to other load).")
    print(f"{'':32}" + "".join(f"{f'c={c}':>30}" for c in connections))

    def row(name: str, loads: dict[int, list[Load]]) -> str:
        cells = []
        for conns in connections:
            rps = statistics.median(x.rps for x in loads[conns])
            cpu = statistics.median(x.cpu_us for x in loads[conns])
            base_rps = statistics.median(x.rps for x in floor[conns])
            base_cpu = statistics.median(x.cpu_us for x in floor[conns])
            cells.append(f"{rps:>7.0f} {rps / base_rps:.2f}x {cpu:>6.0f}us {base_cpu / cpu:.2f}x")
        return f"{name:32}" + "".join(f"{c:>30}" for c in cells)

    print(row("floor (bare hypercorn)", floor))
    for name, _, _ in running[0].targets if running else []:
        for label, _ in versions:
            print(row(f"{name} [{label}]", {c: ours[(name, label, c)] for c in connections}))

if __name__ == "__main__":
    main()
