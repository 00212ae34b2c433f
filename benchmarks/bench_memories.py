"""Memory generation ("on this day", ``MemoryGenerate``) over a large library.

    python benchmarks/bench_memories.py [--db-url URL] [--assets 100000] [--users 4]

Fills a fresh database (on ``--db-url``'s server, else an embedded PostgreSQL in a temporary
folder) by COPY with ``--assets`` assets spread over twenty years and ``--users`` users, each
with a preview file row, a few archived, hidden or trashed. Then it runs the generation for a
fixed day (seven target days, the first run) and prints the time and what it made, then a
second run (nothing to do) and the next day's run (one target day).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timeline import postgres_server, with_database

from immich_trio.sql import memory_generation as gen
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import open_pool

TODAY = date(2025, 6, 15)
START = datetime(2005, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=20 * 365)
ASSET_COLUMNS = ("id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",
                 "checksum", "checksumAlgorithm", "originalFileName", "visibility", "deletedAt", "status")  # fmt: skip


def asset_rows(owners: list[str], count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    for i in range(count):
        taken = START + timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))
        roll = rng.random()
        visibility = "archive" if roll < 0.03 else "hidden" if roll < 0.04 else "timeline"
        trashed = rng.random() < 0.01
        yield (
            uuid.uuid4(), owners[i % len(owners)], "IMAGE", f"/media/upload/{i}.jpg", taken, taken, taken,
            os.urandom(20), "sha1", f"IMG_{i:06d}.jpg", visibility, now if trashed else None,
            "trashed" if trashed else "active",
        )  # fmt: skip


def fill(url: str, assets: int, users: int) -> None:
    rng = random.Random(42)
    with psycopg.connect(url, autocommit=True) as conn:
        owners = []
        for n in range(users):
            row = conn.execute(
                'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                (f"user{n}@example.com", "", f"user{n}"),
            ).fetchone()
            assert row is not None
            owners.append(str(row[0]))
        started = time.perf_counter()
        ids: list[uuid.UUID] = []
        with conn.cursor() as cur:
            cols = ", ".join(f'"{c}"' for c in ASSET_COLUMNS)
            with cur.copy(f"COPY asset ({cols}) FROM STDIN") as copy:
                for row in asset_rows(owners, assets, rng):
                    copy.write_row(row)
                    ids.append(row[0])
            with cur.copy('COPY asset_file ("assetId", type, path) FROM STDIN') as copy:
                for asset_id in ids:
                    copy.write_row((asset_id, "preview", f"/media/thumbs/{asset_id}.webp"))
        conn.execute("VACUUM ANALYZE asset")
        conn.execute("VACUUM ANALYZE asset_file")
        print(f"filled {assets} assets of {users} users (+preview rows) in {time.perf_counter() - started:.1f} s")


async def run(url: str) -> None:
    async with open_pool(url) as pool, pool.connection() as conn:
        for label, today in (("first run, 7 target days", TODAY), ("second run, nothing to do", TODAY),
                             ("next day, 1 target day", TODAY + timedelta(days=1))):  # fmt: skip
            started = time.perf_counter()
            days = await gen.generate(conn, today)
            elapsed = time.perf_counter() - started
            cur = await conn.execute("SELECT count(*) AS m, (SELECT count(*) FROM memory_asset) AS a FROM memory")
            row = await cur.fetchone()
            assert row is not None
            print(f"{label}: {elapsed:.3f} s ({len(days)} days; {row['m']} memories, {row['a']} memory assets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db-url")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = "bench_memories_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        try:
            trio.run(migrate_url, url)
            fill(url, args.assets, args.users)
            trio.run(run, url)
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
