"""Upload benchmark: one big file through ``POST /api/assets`` on the real server.

Starts ``immich-trio serve`` (embedded PostgreSQL, temporary media folder) on a free port,
creates an admin and an API key over HTTP, uploads a generated file with ``curl -F`` (which
streams from disk), and prints the wall time next to ``cp`` of the same file and the
server's resident memory before and during the upload (sampled from /proc).

    python benchmarks/bench_upload.py --size-mb 1024
    python benchmarks/bench_upload.py --size-mb 2048
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CHUNK = 8 * 1024 * 1024
PAGE_KIB = 1024

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if call(base, "GET", "/api/server/ping") == {"res": "pong"}:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not start")


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_kib(self.pid)[0])
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(CHUNK, left)
            f.write(os.urandom(n))
            left -= n


def timed_cp(src: Path, dst: Path) -> tuple[float, float]:
    """Seconds for ``cp``, and for ``cp`` followed by an fsync of the copy."""
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    plain = time.perf_counter() - start
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    synced = time.perf_counter() - start
    dst.unlink()
    return plain, synced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    media = work / "media"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1"}
    env.pop("DB_URL", None)
    log_path = work / "server.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, proc)
        call(base, "POST", "/api/auth/admin-sign-up", {"email": "admin@example.com", "password": "admin", "name": "Admin"})
        token = call(base, "POST", "/api/auth/login", {"email": "admin@example.com", "password": "admin"})["accessToken"]
        key = call(base, "POST", "/api/api-keys", {"name": "bench", "permissions": ["all"]},
                   {"Authorization": f"Bearer {token}"})["secret"]

        source = work / "video.mp4"
        print(f"generating {args.size_mb} MiB of random bytes ...", flush=True)
        make_file(source, size)
        cp_plain, cp_synced = timed_cp(source, media / "cp-copy.bin")

        rss_before, hwm_before = rss_kib(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        start = time.perf_counter()
        out = subprocess.run(
            [
                "curl", "-sS", "--fail-with-body", "-H", f"x-api-key: {key}",
                "-F", f"assetData=@{source};filename=video.mp4;type=video/mp4",
                "-F", "fileCreatedAt=2024-01-01T00:00:00.000Z", "-F", "fileModifiedAt=2024-01-01T00:00:00.000Z",
                f"{base}/api/assets",
            ],
            capture_output=True, check=True,
        )
        upload_seconds = time.perf_counter() - start
        peak = sampler.stop()
        _, hwm_after = rss_kib(proc.pid)
        reply = json.loads(out.stdout)
        info = call(base, "GET", f"/api/assets/{reply['id']}", headers={"x-api-key": key})
        stored = Path(info["originalPath"])
        assert reply["status"] == "created" and stored.stat().st_size == size, (reply, stored)

        mib = size / 1024 / 1024
        print(f"file size            {mib:.0f} MiB")
        print(f"cp                   {cp_plain:6.2f} s  ({mib / cp_plain:6.0f} MiB/s)")
        print(f"cp + fsync           {cp_synced:6.2f} s  ({mib / cp_synced:6.0f} MiB/s)")
        print(f"upload (curl -F)     {upload_seconds:6.2f} s  ({mib / upload_seconds:6.0f} MiB/s)"
              f"  = {upload_seconds / cp_synced:.2f} x cp+fsync")
        print(f"server RSS before    {rss_before / PAGE_KIB:6.1f} MiB")
        print(f"server RSS peak      {peak / PAGE_KIB:6.1f} MiB  (growth {(peak - rss_before) / PAGE_KIB:.1f} MiB)")
        print(f"server VmHWM         {hwm_before / PAGE_KIB:6.1f} -> {hwm_after / PAGE_KIB:.1f} MiB")
    finally:
        stop_server(proc)
        log_file.close()
        if proc.returncode not in (0, -signal.SIGTERM):
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
