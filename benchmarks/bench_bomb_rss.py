"""The server's memory while decompression-bomb PNGs are thumbnailed: a real ``immich-trio serve``
gets ``--bombs`` 85-byte PNGs that claim 65000x65000 pixels (the e2e test's), and its RSS is
sampled every 50 ms until their jobs settle. Printed: idle, peak and settled RSS of the server
process (its codec workers apart), the peak split from ``/proc/<pid>/smaps_rollup`` (anonymous
memory: heaps, arenas, thread stacks; file-backed: libraries mapped in), the mappings that grew
most between idle and peak (from ``/proc/<pid>/smaps``), the server's thread count, and the
codec workers' peak RSS.

    PYTHONPATH=. python benchmarks/bench_bomb_rss.py [--bombs 10] [--budget 256]
        [--server-pythonpath DIR] [--env NAME=VALUE ...]

``--server-pythonpath`` runs another checkout's server (before/after comparisons);
``--env`` adds variables to its environment (e.g. ``MALLOC_ARENA_MAX=2``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import call, new_server
from tests.e2e.test_crash_e2e import _upload
from tests.e2e.test_hostile_media_e2e import _key, _png_bomb

MB = 1024 * 1024


def rollup(pid: int) -> dict[str, int]:
    """``/proc/<pid>/smaps_rollup`` in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) * 1024
    return fields


def by_mapping(pid: int) -> Counter[str]:
    """RSS per mapping name (anonymous mappings as ``[anon]``) from ``/proc/<pid>/smaps``."""
    sizes: Counter[str] = Counter()
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else "[anon]"
        elif line.startswith("Rss:"):
            sizes[name] += int(head[1]) * 1024
    return sizes


def each_worker_rss(pid: int) -> list[int]:
    """RSS of each codec worker process (trio-parallel's, started by multiprocessing's spawn)."""
    sizes = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                sizes.append(int(child.memory_info().rss))
        except psutil.NoSuchProcess:
            pass
    return sizes


def workers_rss(pid: int) -> int:
    return sum(each_worker_rss(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bombs", type=int, default=10)
    parser.add_argument("--budget", type=int, default=256, help="IMMICH_TRIO_DECODE_MEMORY_MB")
    parser.add_argument("--server-pythonpath", default=None)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    extra = {"IMMICH_TRIO_DECODE_MEMORY_MB": str(args.budget)}
    extra.update(dict(item.split("=", 1) for item in args.env))
    if args.server_pythonpath:
        extra["PYTHONPATH"] = args.server_pythonpath
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # ``python -m`` puts the working folder first on the server's path
        server = new_server(Path(tmp), 0, extra)
        server.start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            key, session = _key(server.api)
            time.sleep(1.0)
            idle, idle_maps = rollup(pid), by_mapping(pid)
            peak: dict[str, object] = {"rss": idle["Rss"], "rollup": idle, "maps": idle_maps}
            threads = psutil.Process(pid).num_threads()
            worker_peak = 0
            stop = threading.Event()

            def sample() -> None:
                nonlocal threads, worker_peak
                while not stop.is_set():
                    now = rollup(pid)
                    if now["Rss"] > int(str(peak["rss"])):
                        peak.update(rss=now["Rss"], rollup=now, maps=by_mapping(pid))
                    threads = max(threads, psutil.Process(pid).num_threads())
                    worker_peak = max(worker_peak, workers_rss(pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            for i in range(args.bombs):
                status, body = _upload(server.api, key, f"bomb-{i}.png", _png_bomb(i))
                assert status == 201, body
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                jobs = call(server.api, "GET", "/jobs", headers=session).body
                busy = sum(
                    q["jobCounts"]["active"] + q["jobCounts"]["waiting"] + q["jobCounts"]["delayed"]
                    for q in jobs.values()
                )
                if not busy:
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            time.sleep(1.0)
            stop.set()
            sampler.join(10)
            settled, settled_workers = rollup(pid), each_worker_rss(pid)
        finally:
            server.stop()
            server.kill_all()
    top = rollup_peak = peak["rollup"]
    assert isinstance(top, dict) and isinstance(rollup_peak, dict)
    grown = peak["maps"]
    assert isinstance(grown, Counter)
    grown.subtract(idle_maps)
    print(f"{args.bombs} bombs, budget {args.budget} MB, settled in {elapsed:.1f}s, env {args.env}")
    print(f"server RSS: idle {idle['Rss'] // MB} MB, peak {rollup_peak['Rss'] // MB} MB"
          f" (+{(rollup_peak['Rss'] - idle['Rss']) // MB} MB), settled {settled['Rss'] // MB} MB")  # fmt: skip
    for field in ("Anonymous", "Private_Dirty", "Shared_Clean", "Private_Clean"):
        print(f"  {field:14} idle {idle[field] // MB:5} MB  peak {rollup_peak[field] // MB:5} MB"
              f"  settled {settled[field] // MB:5} MB")  # fmt: skip
    print(f"  threads at most {threads}; codec workers' RSS at most {worker_peak // MB} MB,"
          f" settled {[size // MB for size in settled_workers]} MB")  # fmt: skip
    print("  grown most, idle -> peak:")
    for name, size in grown.most_common(8):
        print(f"    {size / MB:8.1f} MB  {name}")


if __name__ == "__main__":
    main()
