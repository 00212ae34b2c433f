"""A first full mobile sync of a large library through the real server process.

    python benchmarks/bench_sync.py [--db-url URL] [--assets 100000] [--albums 100]
                                    [--album-links 20000] [--slow-clients 0]

Fills a fresh database (``--db-url``'s server, else an embedded PostgreSQL in a temporary
folder) with ``--assets`` assets of one user, each with an exif row, ``--albums`` albums owned
by that user holding ``--album-links`` of those assets, and a partner who shares 2,000 assets.
Then it starts ``immich-trio serve`` on that database (tests/e2e ``new_server``) and streams
``POST /api/sync/stream`` with the types the v3 app requests, reading as fast as it can.

Prints: total time (goal <= 10 s), time to the first line (goal <= 200 ms), lines and lines/s,
bytes, and the server's RSS growth during the stream (goal <= 32 MB; peak VmRSS sampled every
10 ms minus VmRSS just before). ``--slow-clients N`` first opens N streams that are not read,
to show what they cost the fast one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_timeline import asset_rows, postgres_server, with_database  # noqa: E402

from immich_trio import crypto  # noqa: E402
from immich_trio.sql.migrate import migrate_url  # noqa: E402
from tests.e2e.conftest import new_server  # noqa: E402
from tests.sync_client import MOBILE_TYPES  # noqa: E402

ASSET_COLUMNS = (
    "id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",
    "checksum", "checksumAlgorithm", "originalFileName", "isFavorite", "visibility", "deletedAt",
    "status", "width", "height", "thumbhash", "duration", "createdAt",
)  # fmt: skip
EXIF_COLUMNS = ("assetId", "city", "country", "latitude", "longitude", "exifImageWidth", "exifImageHeight", "make", "model")  # fmt: skip


def fill(url: str, assets: int, albums: int, links: int) -> str:
    """Users, a session, assets with exif, albums and a partner; returns the session token."""
    rng = random.Random(7)
    token = crypto.new_token()
    with psycopg.connect(url, autocommit=True) as conn:
        ids = []
        for email in ("bench@example.com", "partner@example.com"):
            row = conn.execute(
                'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                (email, "", email.split("@")[0]),
            ).fetchone()
            assert row is not None
            ids.append(str(row[0]))
        me, partner = ids
        conn.execute(
            'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
            (crypto.hash_token(token), me, "bench", "Android"),
        )
        conn.execute('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (partner, me))
        started = time.perf_counter()
        mine: list[Any] = []
        with conn.cursor() as cur:
            cols = ", ".join(f'"{c}"' for c in ASSET_COLUMNS)
            exif: list[tuple[Any, ...]] = []
            with cur.copy(f"COPY asset ({cols}) FROM STDIN") as copy:
                for owner, count in ((me, assets), (partner, 2000)):
                    for row in asset_rows(owner, count, 0, rng):
                        copy.write_row(row)
                        if owner == me:
                            mine.append(row[0])
                        exif.append((row[0], "Lyon", "France", 45.76, 4.83, row[14], row[15], "Canon", "EOS R5"))
            exif_cols = ", ".join(f'"{c}"' for c in EXIF_COLUMNS)
            with cur.copy(f"COPY asset_exif ({exif_cols}) FROM STDIN") as copy:
                for exif_row in exif:
                    copy.write_row(exif_row)
            album_ids = [uuid.uuid4() for _ in range(albums)]
            with cur.copy('COPY album (id, "albumName") FROM STDIN') as copy:
                for n, album_id in enumerate(album_ids):
                    copy.write_row((album_id, f"Album {n}"))
            with cur.copy('COPY album_user ("albumId", "userId", role) FROM STDIN') as copy:
                for album_id in album_ids:
                    copy.write_row((album_id, me, "owner"))
            with cur.copy('COPY album_asset ("albumId", "assetId") FROM STDIN') as copy:
                for n, asset_id in enumerate(rng.sample(mine, min(links, len(mine)))):
                    copy.write_row((album_ids[n % albums], asset_id))
        for table in ("asset", "asset_exif", "album", "album_user", "album_asset"):
            conn.execute(f"VACUUM ANALYZE {table}")
        print(f"filled {assets} + 2000 partner assets (+exif), {albums} albums, {links} links in {time.perf_counter() - started:.1f} s")
    return token


def rss_kb(pid: int) -> int:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1])
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kb(pid)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.01)


def open_stream(port: int, token: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = json.dumps({"types": MOBILE_TYPES})
    conn.request(
        "POST",
        "/api/sync/stream",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/jsonlines+json"},
    )
    return conn.getresponse()


def stream_once(port: int, token: str, pid: int) -> dict[str, float]:
    before = rss_kb(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.perf_counter()
    response = open_stream(port, token)
    assert response.status == 200, response.read()
    first = response.readline()
    first_at = time.perf_counter() - started
    lines, size = 1, len(first)
    kinds: dict[str, int] = {}
    while True:
        text = response.readline()
        if not text:
            break
        lines += 1
        size += len(text)
        kind = text[9 : text.index(b'"', 9)].decode()
        kinds[kind] = kinds.get(kind, 0) + 1
    total = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    assert kinds.get("SyncCompleteV1") == 1, kinds
    print("  lines by type: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return {
        "total_s": total,
        "first_line_ms": first_at * 1000,
        "lines": lines,
        "lines_per_s": lines / total,
        "mb": size / 1e6,
        "rss_growth_mb": (sampler.peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--albums", type=int, default=100)
    parser.add_argument("--album-links", type=int, default=20_000)
    parser.add_argument("--slow-clients", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = f"bench_sync_{os.getpid()}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        try:
            trio.run(migrate_url, url)
            token = fill(url, args.assets, args.albums, args.album_links)
            folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
            server = new_server(folder, extra_env={"DB_URL": url})
            print(f"server started in {server.start():.1f} s")
            assert server.proc is not None
            slow = [open_stream(server.port, token) for _ in range(args.slow_clients)]
            try:
                results = []
                for n in range(args.rounds):
                    result = stream_once(server.port, token, server.proc.pid)
                    results.append(result)
                    print(f"round {n + 1}: " + ", ".join(f"{k} {v:,.1f}" for k, v in result.items()))
                best = min(results, key=lambda r: r["total_s"])
                print("\n| measure | goal | result |\n|---|---|---|")
                print(f"| total time | <= 10 s | {best['total_s']:.2f} s |")
                print(f"| time to first line | <= 200 ms | {min(r['first_line_ms'] for r in results):.0f} ms |")
                print(f"| server RSS growth | <= 32 MB | {max(r['rss_growth_mb'] for r in results):.1f} MB |")
                print(f"| lines | | {best['lines']:,.0f} ({best['mb']:.1f} MB) |")
                print(f"| lines/s | | {best['lines_per_s']:,.0f} |")
            finally:
                for response in slow:
                    response.close()
                server.stop()
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
