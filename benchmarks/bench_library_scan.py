"""Rescan of an external library whose files are all imported and unchanged: files per second
and peak RSS (Immich's field report: 1,000,000 assets in 37 s, about 27,000 files per second).

    python benchmarks/bench_library_scan.py [--files 100000] [--per-folder 1000] [--rescans 3] [--db-url URL]

Makes a tree of ``--files`` small JPEG files (``--per-folder`` per folder) in a temporary
folder, a fresh database (on ``--db-url``'s server, else an embedded PostgreSQL), a library on
the tree, and imports it with the scanner's own jobs (the metadata jobs they queue are dropped:
this measures the scan, not the pipeline). Then, in a fresh process (so that its peak RSS is
the rescan's alone), it runs a full rescan as the dispatcher would run its jobs, one after the
other: ``LibrarySyncFilesQueueAll`` (the walk, and the check of each page of paths against the
database: nothing new), ``LibraryScanAssetsQueueAll`` (the offline check in SQL and the pages of
ids) and every ``LibrarySyncAssets`` (a stat per file: nothing changed), on the table as
autovacuum leaves it after the import (``VACUUM (ANALYZE)``). It prints each phase's
time and rate, the whole rescan's rate, and the peak RSS of that process.

On a shared machine the rate moves with the load, so the same run also times a floor: a bare
``os.scandir`` walk of the tree with a ``stat`` of each file (what any rescan must at least do,
with no database), just before and just after the rescan, the faster of the two. The rescan's
rate as a fraction of the floor's is the number to compare across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timeline import postgres_server, with_database

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.library_scanner import LibraryScannerActor
from immich_trio.sql.jobs import Job
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import Pool, open_pool

# A 1x1 JPEG: the files' content does not matter to a rescan.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c19"
    "12130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b08"
    "0001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b51000"
    "02010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
    "2433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768"
    "696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fb"
    "d3ffd9"
)


def make_tree(root: Path, files: int, per_folder: int) -> None:
    for i in range(files):
        folder = root / f"{i // per_folder:05d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"IMG_{i:07d}.jpg").write_bytes(TINY_JPEG)


def floor_walk(root: Path) -> float:
    """Seconds for a bare walk of ``root`` with a ``stat`` of every file (no filtering, no
    database): the least a rescan must do."""
    started = time.perf_counter()
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat()
    return time.perf_counter() - started


def _job(job_id: int, name: str, data: dict[str, Any]) -> Job:
    return Job(id=job_id, queue="library", name=name, data=data, attempt=1, max_attempts=1,
               created_at=datetime.now(UTC))


async def run(pool: Pool, scanner: LibraryScannerActor, name: str, data: dict[str, Any]) -> JobResult:
    result = await scanner.run_job(_job(0, name, data))
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)
    return result


async def drain(pool: Pool, scanner: LibraryScannerActor, name: str) -> int:
    """Run (and delete) every queued ``name`` job, oldest first; how many."""
    count = 0
    while True:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM immich_trio.job WHERE id = (SELECT min(id) FROM immich_trio.job WHERE name = %s)"
                " RETURNING data", (name,),
            )
            row = await cur.fetchone()
        if row is None:
            return count
        await run(pool, scanner, name, row["data"])
        count += 1


async def import_all(url: str, library_id: str, media: Path) -> None:
    async with open_pool(url) as pool:
        scanner = LibraryScannerActor(pool, media, now=lambda: datetime.now(UTC))
        await run(pool, scanner, "LibrarySyncFilesQueueAll", {"id": library_id})
        await drain(pool, scanner, "LibrarySyncFiles")
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM immich_trio.job")


async def rescan(url: str, library_id: str, media: Path) -> dict[str, Any]:
    async with open_pool(url) as pool:
        scanner = LibraryScannerActor(pool, media, now=lambda: datetime.now(UTC))
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        c0 = time.process_time()
        t0 = time.perf_counter()
        await run(pool, scanner, "LibrarySyncFilesQueueAll", {"id": library_id})
        t1 = time.perf_counter()
        await run(pool, scanner, "LibraryScanAssetsQueueAll", {"id": library_id})
        checks = await drain(pool, scanner, "LibrarySyncAssets")
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT (SELECT count(*) FROM immich_trio.job) AS jobs,"
                ' (SELECT count(*) FROM asset WHERE "isOffline") AS offline'
            )
            left = await cur.fetchone()
    return {"walk": t1 - t0, "check": t2 - t1, "batches": checks, "jobs_left": left["jobs"],
            "offline": left["offline"], "baseline_rss_mib": baseline, "cpu": cpu, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--per-folder", type=int, default=1_000)
    parser.add_argument("--rescans", type=int, default=3, help="rescans to run (the best is reported in full)")
    parser.add_argument("--db-url", help="a PostgreSQL server (role allowed to create databases)")
    parser.add_argument("--rescan", nargs=3, metavar=("URL", "LIBRARY", "MEDIA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rescan:
        url, library_id, media = args.rescan
        print(json.dumps(trio.run(rescan, url, library_id, Path(media))))
        return
    base = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        tree, media = base / "photos", base / "media"
        media.mkdir()
        t0 = time.perf_counter()
        make_tree(tree, args.files, args.per_folder)
        print(f"tree: {args.files} files in {time.perf_counter() - t0:.1f} s")
        with postgres_server(args.db_url) as server_url:
            name = "bench_library_" + uuid.uuid4().hex[:8]
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = with_database(server_url, name)
            try:
                trio.run(migrate_url, url)
                with psycopg.connect(url, autocommit=True) as conn:
                    [owner] = conn.execute(
                        "INSERT INTO \"user\" (email, password, name) VALUES ('b@example.com', 'x', 'B') RETURNING id"
                    ).fetchone() or []
                    [library_id] = conn.execute(
                        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns")'
                        " VALUES ('Bench', %s, %s, %s) RETURNING id::text",
                        (owner, [str(tree)], ["**/@eaDir/**", "**/._*"]),
                    ).fetchone() or []
                t0 = time.perf_counter()
                trio.run(import_all, url, library_id, media)
                first = time.perf_counter() - t0
                print(f"first import (rows only, no pipeline): {first:.1f} s, {args.files / first:,.0f} files/s")
                # A rescan meets a table autovacuum has been through since the import: hint bits set,
                # statistics gathered (else the first rescan alone pays for them).
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("VACUUM (ANALYZE) asset")
                runs = []
                for _ in range(args.rescans):
                    floor_before = floor_walk(tree)
                    out = subprocess.run(
                        [sys.executable, __file__, "--rescan", url, library_id, str(media)],
                        check=True, capture_output=True, text=True,
                    )
                    floor = min(floor_before, floor_walk(tree))
                    runs.append((json.loads(out.stdout.strip().splitlines()[-1]), floor))
            finally:
                with psycopg.connect(server_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        shutil.rmtree(base, ignore_errors=True)
    n = args.files
    print(f"rescans, nothing changed ({n} files), each beside a floor (os.scandir walk + stat, no database):")
    for result, floor in runs:
        total = result["walk"] + result["check"]
        print(f"  rescan {total:5.2f} s {n / total:>9,.0f} files/s | floor {floor:5.2f} s {n / floor:>9,.0f} files/s"
              f" | ratio {floor / total:.2f}")
    result, floor = max(runs, key=lambda run: run[1] / (run[0]["walk"] + run[0]["check"]))
    total = result["walk"] + result["check"]
    print(f"best ratio's run ({result['batches']} LibrarySyncAssets batches):")
    print(f"  walk + new-path check : {result['walk']:6.1f} s  {n / result['walk']:>9,.0f} files/s")
    print(f"  offline + stat checks : {result['check']:6.1f} s  {n / result['check']:>9,.0f} files/s")
    print(f"  whole rescan          : {total:6.1f} s  {n / total:>9,.0f} files/s  (Immich's report: ~27,000)")
    print(f"  floor                 : {floor:6.1f} s  {n / floor:>9,.0f} files/s  (rescan rate / floor rate: {floor / total:.2f})")
    print(f"  CPU time of the scanner's process: {result['cpu']:.1f} s ({n / result['cpu']:,.0f} files per CPU second;"
          " the wall time above waits for a core on a loaded machine)")
    print(f"  peak RSS of the rescan process: {result['peak_rss_mib']:.0f} MiB"
          f" ({result['baseline_rss_mib']:.0f} MiB before the rescan began)")
    print(f"  jobs left: {result['jobs_left']}, offline assets: {result['offline']} (both must be 0)")


if __name__ == "__main__":
    main()
