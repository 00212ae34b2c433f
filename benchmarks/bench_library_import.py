"""First import of a folder of photos: an external library scan against ``@immich/cli`` uploads,
end to end (issue 13: "First import of 10,000 photos from a library: end-to-end photos per
second vs the same photos uploaded with ``@immich/cli``").

    python benchmarks/bench_library_import.py [--photos 10000] [--rounds 1] [--keep]

Makes ``--photos`` small distinct JPEGs (Pillow, each with its own EXIF ``DateTimeOriginal``,
100 a folder) in a temporary folder. Each round starts two fresh servers, one after the other
(the real ``immich-trio serve`` process, tests/e2e ``new_server``, embedded PostgreSQL, machine
learning off as in the end-to-end tests):

- library: admin sign-up, ``POST /api/libraries`` on the folder, ``POST /api/libraries/{id}/scan``;
- cli: admin sign-up, an API key, ``immich login`` and ``immich upload --recursive`` on the folder
  (the published @immich/cli, installed once into ``.e2e-cache/`` as the end-to-end test does).

The clock starts at the scan request (or the CLI's start) and stops when ``GET /api/jobs`` shows
every queue idle and ``GET /api/server/statistics`` counts every photo; then a sample of assets
is checked to have a thumbnail (``GET /api/assets/{id}/thumbnail`` is a WebP) and a preview.
Server start and sign-up are not timed. The order of the two alternates between rounds.

Prints each run's seconds and photos/s, and the library/CLI ratio of the medians.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import ServerProcess, call, new_server  # noqa: E402
from tests.e2e.test_cli_upload_e2e import immich_cli_command  # noqa: E402

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
PER_FOLDER = 100
TIMEOUT = 7200.0
SAMPLE = 20


def make_photos(root: Path, count: int) -> None:
    """``count`` distinct 96x64 JPEGs with EXIF dates, ``PER_FOLDER`` to a folder."""
    rng = random.Random(13)
    for i in range(count):
        folder = root / f"{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        image = Image.new("RGB", (96, 64), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        image.putpixel((i % 96, (i // 96) % 64), (i % 256, (i >> 8) % 256, (i >> 16) % 256))
        exif = Image.Exif()
        stamp = f"20{10 + i % 15:02d}:{1 + i % 12:02d}:{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}"
        exif[0x0132] = stamp  # DateTime
        exif.get_ifd(0x8769)[0x9003] = stamp  # DateTimeOriginal
        image.save(folder / f"IMG_{i:06d}.jpg", "JPEG", quality=85, exif=exif)


def _sign_up(server: ServerProcess) -> dict[str, str]:
    assert call(server.api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    login = call(server.api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    return {"Authorization": f"Bearer {login.body['accessToken']}"}


def _idle(api: str, headers: dict[str, str]) -> bool:
    jobs = call(api, "GET", "/jobs", headers=headers).body
    return not any(q["jobCounts"]["active"] or q["jobCounts"]["waiting"] or q["jobCounts"]["delayed"] for q in jobs.values())


def _wait_done(api: str, headers: dict[str, str], photos: int, started: float) -> float:
    """Seconds from ``started`` until every queue is idle and every photo is an asset."""
    deadline = started + TIMEOUT
    while time.perf_counter() < deadline:
        if _idle(api, headers) and call(api, "GET", "/server/statistics", headers=headers).body["photos"] >= photos:
            elapsed = time.perf_counter() - started
            if _idle(api, headers):  # nothing was queued between the two answers
                return elapsed
        time.sleep(0.25)
    raise RuntimeError(f"not done after {TIMEOUT} s")


def _check_sample(api: str, headers: dict[str, str], photos: int) -> None:
    """A sample of assets has a WebP thumbnail and a JPEG preview; the failed counts are zero."""
    jobs = call(api, "GET", "/jobs", headers=headers).body
    failed = {name: q["jobCounts"]["failed"] for name, q in jobs.items() if q["jobCounts"]["failed"]}
    assert not failed, failed
    stats = call(api, "GET", "/server/statistics", headers=headers).body
    assert stats["photos"] == photos, stats
    found = call(api, "POST", "/search/metadata", {"size": SAMPLE, "withExif": True}, headers).body
    items = found["assets"]["items"]
    assert len(items) == min(SAMPLE, photos), found["assets"]["count"]
    for asset in items:
        assert asset["exifInfo"]["dateTimeOriginal"], asset["originalPath"]
        for size, fmt in (("thumbnail", "WEBP"), ("preview", "JPEG")):
            request = urllib.request.Request(f"{api}/assets/{asset['id']}/thumbnail?size={size}", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                assert Image.open(io.BytesIO(response.read())).format == fmt, (asset["id"], size)


def run_library(folder: Path, photos: Path, count: int) -> float:
    server = new_server(folder, 0)
    try:
        server.start()
        headers = _sign_up(server)
        me = call(server.api, "GET", "/users/me", headers=headers).body
        created = call(server.api, "POST", "/libraries", {"ownerId": me["id"], "importPaths": [str(photos)]}, headers)
        assert created.status == 201, created.body
        started = time.perf_counter()
        scan = call(server.api, "POST", f"/libraries/{created.body['id']}/scan", headers=headers)
        assert scan.status == 204, scan.body
        elapsed = _wait_done(server.api, headers, count, started)
        _check_sample(server.api, headers, count)
        return elapsed
    finally:
        server.stop()
        server.kill_all()


def run_cli(folder: Path, photos: Path, count: int) -> float:
    cli = immich_cli_command()
    server = new_server(folder, 1)
    try:
        server.start()
        headers = _sign_up(server)
        key = call(server.api, "POST", "/api-keys", {"name": "cli", "permissions": ["all"]}, headers).body["secret"]
        env = {**os.environ, "IMMICH_CONFIG_DIR": str(folder / "cli-config")}
        subprocess.run([*cli, "login", server.api, key], env=env, check=True, capture_output=True, timeout=120)
        started = time.perf_counter()
        out = subprocess.run([*cli, "upload", "--recursive", str(photos)], env=env, capture_output=True, text=True,
                             timeout=TIMEOUT, check=False)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        assert f"Successfully uploaded {count} new asset" in out.stdout, out.stdout[-2000:]
        elapsed = _wait_done(server.api, headers, count, started)
        _check_sample(server.api, headers, count)
        return elapsed
    finally:
        server.stop()
        server.kill_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, media)")
    args = parser.parse_args()
    immich_cli_command()  # install before any clock runs
    base = Path(tempfile.mkdtemp(prefix="bench-library-import-"))
    try:
        photos = base / "photos"
        t0 = time.perf_counter()
        make_photos(photos, args.photos)
        print(f"photos: {args.photos} JPEGs in {time.perf_counter() - t0:.1f} s ({base})", flush=True)
        runs: dict[str, list[float]] = {"library": [], "cli": []}
        ways: dict[str, Callable[[Path, Path, int], float]] = {"library": run_library, "cli": run_cli}
        for round_no in range(args.rounds):
            order = ["library", "cli"] if round_no % 2 == 0 else ["cli", "library"]
            for name in order:
                folder = base / f"round{round_no}-{name}"
                folder.mkdir()
                seconds = ways[name](folder, photos, args.photos)
                runs[name].append(seconds)
                print(f"round {round_no + 1} {name:7s}: {seconds:8.1f} s  {args.photos / seconds:7.1f} photos/s", flush=True)
                if not args.keep:
                    shutil.rmtree(folder, ignore_errors=True)
        library, cli = statistics.median(runs["library"]), statistics.median(runs["cli"])
        print(f"library scan: {args.photos / library:.1f} photos/s (median {library:.1f} s)")
        print(f"@immich/cli:  {args.photos / cli:.1f} photos/s (median {cli:.1f} s)")
        print(f"library / cli: {cli / library:.2f}x the photos per second")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
