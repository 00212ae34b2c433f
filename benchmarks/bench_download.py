"""Download benchmark: a 2 GiB ZIP through ``POST /api/download/archive`` on the real server.

Starts ``immich-trio serve`` (embedded PostgreSQL, temporary media folder), uploads N small
files, then turns each stored original into a sparse file of SIZE/N bytes (no disk space, no
write time), streams the archive with ``curl -o /dev/null`` and prints the wall time next to
``cat`` of the same files, and the server's resident memory before and at its peak.

    python benchmarks/bench_download.py --size-mb 2048 --files 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_upload import RssSampler, call, free_port, rss_kib, stop_server, wait_ready

PAGE_KIB = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()
    per_file = args.size_mb * 1024 * 1024 // args.files

    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    media = work / "media"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1"}
    env.pop("DB_URL", None)
    log_path = work / "server.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env, stdout=log_file,
                            stderr=subprocess.STDOUT)
    try:
        wait_ready(base, proc)
        call(base, "POST", "/api/auth/admin-sign-up", {"email": "admin@example.com", "password": "admin", "name": "A"})
        token = call(base, "POST", "/api/auth/login", {"email": "admin@example.com", "password": "admin"})["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        small = work / "small.bin"
        ids, paths = [], []
        for i in range(args.files):
            small.write_bytes(os.urandom(64) + i.to_bytes(4, "big"))
            out = subprocess.run(
                ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}",
                 "-F", f"assetData=@{small};filename=part{i}.mp4;type=video/mp4",
                 "-F", "fileCreatedAt=2024-01-01T00:00:00.000Z", "-F", "fileModifiedAt=2024-01-01T00:00:00.000Z",
                 f"{base}/api/assets"], capture_output=True, check=True)
            asset_id = json.loads(out.stdout)["id"]
            ids.append(asset_id)
            paths.append(Path(call(base, "GET", f"/api/assets/{asset_id}", headers=auth)["originalPath"]))
        time.sleep(2)  # let the metadata pass on the tiny files settle before the originals grow
        for path in paths:
            with path.open("r+b") as f:
                f.truncate(per_file)

        start = time.perf_counter()
        subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)
        cat_seconds = time.perf_counter() - start

        rss_before, _ = rss_kib(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        start = time.perf_counter()
        out = subprocess.run(
            ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-w", "%{size_download}",
             "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
             "--data", json.dumps({"assetIds": ids}), f"{base}/api/download/archive"],
            capture_output=True, check=True)
        zip_seconds = time.perf_counter() - start
        peak = sampler.stop()
        received = int(out.stdout)
        assert received > args.files * per_file, received

        mib = args.files * per_file / 1024 / 1024
        print(f"archive              {received / 1024 / 1024:.0f} MiB in {args.files} files")
        print(f"cat of the files     {cat_seconds:6.2f} s  ({mib / cat_seconds:6.0f} MiB/s)")
        print(f"download archive     {zip_seconds:6.2f} s  ({mib / zip_seconds:6.0f} MiB/s)"
              f"  = {zip_seconds / cat_seconds:.2f} x cat")
        print(f"server RSS before    {rss_before / PAGE_KIB:6.1f} MiB")
        print(f"server RSS peak      {peak / PAGE_KIB:6.1f} MiB  (growth {(peak - rss_before) / PAGE_KIB:.1f} MiB)")
    finally:
        stop_server(proc)
        log_file.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
