"""Foundation numbers: start time to first ping, idle RSS, authenticated GET /api/users/me per second.

Run: .venv/bin/python benchmarks/bench_foundation.py  (needs `wrk`: apt-get install wrk)
Starts a real `immich-trio serve` with a fresh media folder (embedded PostgreSQL), so the
first start includes initdb; a second start on the same folder is the usual start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes sharing them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def start(env: dict[str, str], api: str) -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while True:
        try:
            call(api + "/server/ping")
            return proc, time.monotonic() - t0
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("server exited") from None
            time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def main() -> None:
    media = Path(tempfile.mkdtemp(prefix="bench-foundation-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "IMMICH_"))}
    env.update(IMMICH_PORT=str(port), IMMICH_HOST="127.0.0.1", IMMICH_MEDIA_LOCATION=str(media), IMMICH_LOG_LEVEL="warn")
    api = f"http://127.0.0.1:{port}/api"
    try:
        proc, first = start(env, api)
        print(f"first start (initdb + migrations) to first ping: {first:.2f} s")
        stop(proc)
        proc, again = start(env, api)
        print(f"start to first ping (existing media folder): {again:.2f} s")
        call(api + "/auth/admin-sign-up", "POST", {"email": "a@example.com", "password": "pw", "name": "A"})
        token = call(api + "/auth/login", "POST", {"email": "a@example.com", "password": "pw"})["accessToken"]  # type: ignore[index]
        time.sleep(3)
        print(f"idle RSS of the server process: {rss_kib(proc.pid) / 1024:.1f} MiB (embedded PostgreSQL not included)")
        postmaster = int((media / "postgres" / "postmaster.pid").read_text().split()[0])
        pg_rss, pg_pss = rss_kib(postmaster), pss_kib(postmaster)
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and f"PPid:\t{postmaster}\n" in (p / "status").read_text():
                    pg_rss += rss_kib(int(p.name))
                    pg_pss += pss_kib(int(p.name))
            except OSError:
                pass
        print(f"RSS of the embedded PostgreSQL (postmaster + backends, shared memory counted per process): {pg_rss / 1024:.1f} MiB")
        print(f"PSS of the embedded PostgreSQL (shared memory counted once): {pg_pss / 1024:.1f} MiB;"
              f" server process PSS {pss_kib(proc.pid) / 1024:.1f} MiB")
        if shutil.which("wrk"):
            for conns in (1, 16):
                out = subprocess.run(
                    ["wrk", "-t1", f"-c{conns}", "-d10s", "-H", f"Authorization: Bearer {token}", api + "/users/me"],
                    capture_output=True, text=True, check=True,
                ).stdout
                rps = [line for line in out.splitlines() if "Requests/sec" in line]
                lat = [line for line in out.splitlines() if "Latency" in line]
                print(f"wrk -t1 -c{conns} -d10s GET /api/users/me: {rps[0].split()[-1]} req/s, latency {lat[0].split()[1]} avg")
        else:
            print("wrk not installed: skip the req/s measurement (apt-get install wrk)")
        stop(proc)
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
