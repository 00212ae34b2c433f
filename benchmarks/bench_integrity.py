"""The integrity checks over a large media folder, through the real job path.

    python benchmarks/bench_integrity.py [--db-url URL] [--files 10000 100000]

For each size: a fresh database (on ``--db-url``'s server, else an embedded PostgreSQL) and a
temporary media folder with that many small files and their asset rows (COPY), 1% of the rows
without a file and 1% of the files without a row. The dispatcher and the integrity actor run
in-process under a supervisor; each check is queued as ``POST /api/jobs`` queues it and timed
until the job table is empty. Prints files per second and the RSS growth over the start of
the check (sampled every 20 ms): bounded memory means it does not grow with the file count.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import trio
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timeline import postgres_server, with_database

from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.integrity import IntegrityActor
from immich_trio.actors.integrity.actor import JOBS
from immich_trio.jobs.names import MANUAL_JOBS, QUEUE_OF, ManualJobName
from immich_trio.reactor import Supervisor
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import open_pool

CHECKS = (
    ManualJobName.INTEGRITY_MISSING_FILES,
    ManualJobName.INTEGRITY_UNTRACKED_FILES,
    ManualJobName.INTEGRITY_CHECKSUM_MISMATCH,
)
SAMPLE = 0.02


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def fill(url: str, media: Path, count: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO "user" (email, password, name) VALUES ('b@example.com', '', 'b') RETURNING id"""
        ).fetchone()
        assert row is not None
        owner = str(row[0])
        folder = media / "upload" / owner
        columns = '"id", "ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",' \
                  ' "fileCreatedAt", "fileModifiedAt", "localDateTime", "createdAt"'  # fmt: skip
        with conn.cursor() as cur, cur.copy(f"COPY asset ({columns}) FROM STDIN") as copy:
            for i in range(count):
                sub = folder / f"{i % 256:02x}"
                if i < 256:
                    sub.mkdir(parents=True, exist_ok=True)
                path = sub / f"{i}.jpg"
                body = f"file {i}".encode()
                if i % 100 != 1:  # 1% of rows without a file
                    path.write_bytes(body)
                if i % 100 != 2:  # 1% of files without a row
                    digest = hashlib.sha1(body).digest()
                    # Each upload has its own "createdAt" (one COPY would give all the same one).
                    created = now - timedelta(seconds=count - i)
                    copy.write_row((uuid.uuid4(), owner, "IMAGE", str(path), path.name, digest, "sha1", now, now, now, created))
        conn.execute("VACUUM ANALYZE asset")


async def run_checks(url: str, media: Path, count: int) -> None:
    async with open_pool(url) as pool:
        tree = Supervisor("bench")
        dispatcher = Dispatcher(pool, name="dispatcher")
        integrity = IntegrityActor(pool, media)
        tree.add_actor(dispatcher)
        tree.add_actor(integrity)
        for job in JOBS:
            dispatcher.register(job, integrity.address)
        async with trio.open_nursery() as nursery:
            await nursery.start(tree.run)
            for check in CHECKS:
                job = MANUAL_JOBS[check]
                base = peak = rss_bytes()
                started = time.perf_counter()
                async with pool.connection() as conn:
                    await conn.execute(
                        "INSERT INTO immich_trio.job (queue, name, data) VALUES (%s, %s, %s)",
                        (QUEUE_OF[job.name].value, job.name.value, Jsonb(dict(job.data))),
                    )
                    await conn.execute("SELECT pg_notify('immich_trio_jobs', %s)", (QUEUE_OF[job.name].value,))
                while True:
                    await trio.sleep(SAMPLE)
                    peak = max(peak, rss_bytes())
                    async with pool.connection() as conn:
                        cur = await conn.execute("SELECT count(*) AS n FROM immich_trio.job WHERE status <> 'failed'")
                        left: Any = await cur.fetchone()
                    if left["n"] == 0:
                        break
                elapsed = time.perf_counter() - started
                async with pool.connection() as conn:
                    cur = await conn.execute("SELECT type, count(*) AS n FROM integrity_report GROUP BY type")
                    reports = {r["type"]: r["n"] for r in await cur.fetchall()}
                print(f"{count:>7} files  {check.value:<28} {elapsed:7.2f} s  {count / elapsed:9.0f} files/s"
                      f"  RSS +{(peak - base) / 2**20:6.1f} MiB (peak {peak / 2**20:.0f} MiB)  reports {reports}")  # fmt: skip
            await tree.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db-url")
    parser.add_argument("--files", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        for count in args.files:
            name = "bench_integrity_" + uuid.uuid4().hex[:8]
            media = Path(tempfile.mkdtemp(prefix="bench-integrity-media-"))
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = with_database(server_url, name)
            try:
                trio.run(migrate_url, url)
                started = time.perf_counter()
                fill(url, media, count)
                print(f"{count:>7} files written with their rows in {time.perf_counter() - started:.1f} s")
                trio.run(run_checks, url, media, count)
            finally:
                shutil.rmtree(media, ignore_errors=True)
                with psycopg.connect(server_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
