"""Search, suggestions, map markers and reverse geocoding on the real server over HTTP.

    python benchmarks/bench_search.py [--db-url URL] [--assets 100000] [--rounds 50]
                                      [--no-places] [--explain]

Starts a PostgreSQL (``--db-url``'s server, else an embedded one in a temporary folder), fills
a fresh database by bulk SQL (COPY): one user with ``--assets`` assets and a partner (shown in
the user's timeline) with a tenth as many, every asset with an exif row: a spread of cities,
states and countries, ~20 camera makes/models, lenses, ratings, GPS for all, dates over ten
years. Then it runs ``immich-trio serve`` as a separate process, lets it import the GeoNames
places (waits for ``reverse-geocoding-state`` in ``system_metadata``) unless ``--no-places``,
and drives it over HTTP on one kept-alive connection: p50/p95 per request shape with the
goals of issue 10 and a verdict each. ``--smart`` also stores a random 512-d embedding per
asset, builds Immich's ``clip_index`` (HNSW; minutes) and times ``POST /search/smart`` by
``queryAssetId`` (a new asset each round: text encoding excluded, as the goal says; the
comparison with usearch and the exact scan is ``bench_smart_search.py``). ``--explain`` also prints EXPLAIN ANALYZE of the SQL the
slowest shapes send (captured with ``auto_explain`` would need superuser; these are the same
statements written out).

Map markers, cold (issue 10's goal: p50 <= 100 ms), measured A B A B on this 2-core machine
shared with other work (``--no-places --rounds 20``; A = the join of asset and asset_exif at
each request, commit 7284079; B = the markers kept by migration 0006's triggers, read per owner
in index order, plus the XXH3 ETag); wall p50 / CPU per request (server + PostgreSQL):
    A  296 ms / 278 ms     B  110 ms / 102 ms
    A  434 ms / 311 ms     B  131 ms / 117 ms
Warm answers (the snapshot cache) went from 18-20 ms to 9-12 ms (the ETag's hash). What B
still spends: PostgreSQL's ordered index scan and ``string_agg`` over ~95,000 rows (~55 ms
on a quiet machine, the executor's cost per row: an index-only scan, ``ARRAY(...)`` or an
ordered aggregate did no better), libpq receiving the 14.5 MB text (~10 ms), one copy adding
the brackets, the HTTP write. Fewer, larger rows (markers pre-joined per owner and month)
would be the next step.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search_smart import SMART_SHAPES, fill_smart
from bench_timeline import percentiles, postgres_server, with_database
from bench_upload import free_port, stop_server, wait_ready

from immich_trio import crypto
from immich_trio.sql.migrate import migrate_url

START = datetime(2015, 1, 1, tzinfo=UTC)
SPAN_S = (datetime(2025, 1, 1, tzinfo=UTC) - START).total_seconds()
# (city, state, country, lat, lon): 40 places in 10 countries.
PLACES = (
    ("Berlin", "Berlin", "Germany", 52.52, 13.40), ("Munich", "Bavaria", "Germany", 48.14, 11.58),
    ("Hamburg", "Hamburg", "Germany", 53.55, 9.99), ("Cologne", "North Rhine-Westphalia", "Germany", 50.94, 6.96),
    ("Paris", "Ile-de-France", "France", 48.86, 2.35), ("Lyon", "Auvergne-Rhone-Alpes", "France", 45.76, 4.83),
    ("Marseille", "Provence-Alpes-Cote d'Azur", "France", 43.30, 5.37), ("Nice", "Provence-Alpes-Cote d'Azur", "France", 43.70, 7.27),
    ("Rome", "Lazio", "Italy", 41.90, 12.50), ("Milan", "Lombardy", "Italy", 45.46, 9.19),
    ("Florence", "Tuscany", "Italy", 43.77, 11.26), ("Naples", "Campania", "Italy", 40.85, 14.27),
    ("Madrid", "Madrid", "Spain", 40.42, -3.70), ("Barcelona", "Catalonia", "Spain", 41.39, 2.17),
    ("Seville", "Andalusia", "Spain", 37.39, -5.98), ("Valencia", "Valencia", "Spain", 39.47, -0.38),
    ("London", "England", "United Kingdom", 51.51, -0.13), ("Edinburgh", "Scotland", "United Kingdom", 55.95, -3.19),
    ("Manchester", "England", "United Kingdom", 53.48, -2.24), ("Cardiff", "Wales", "United Kingdom", 51.48, -3.18),
    ("New York City", "New York", "United States of America", 40.71, -74.01),
    ("San Francisco", "California", "United States of America", 37.77, -122.42),
    ("Los Angeles", "California", "United States of America", 34.05, -118.24),
    ("Chicago", "Illinois", "United States of America", 41.88, -87.63),
    ("Tokyo", "Tokyo", "Japan", 35.68, 139.69), ("Kyoto", "Kyoto", "Japan", 35.01, 135.77),
    ("Osaka", "Osaka", "Japan", 34.69, 135.50), ("Sapporo", "Hokkaido", "Japan", 43.06, 141.35),
    ("Sydney", "New South Wales", "Australia", -33.87, 151.21), ("Melbourne", "Victoria", "Australia", -37.81, 144.96),
    ("Perth", "Western Australia", "Australia", -31.95, 115.86), ("Brisbane", "Queensland", "Australia", -27.47, 153.03),
    ("Toronto", "Ontario", "Canada", 43.65, -79.38), ("Vancouver", "British Columbia", "Canada", 49.28, -123.12),
    ("Montreal", "Quebec", "Canada", 45.50, -73.57), ("Calgary", "Alberta", "Canada", 51.05, -114.07),
    ("Lisbon", "Lisbon", "Portugal", 38.72, -9.14), ("Porto", "Porto", "Portugal", 41.15, -8.61),
    ("Faro", "Faro", "Portugal", 37.02, -7.93), ("Coimbra", "Coimbra", "Portugal", 40.21, -8.43),
)
CAMERAS = (
    ("Canon", ("Canon EOS R5", "Canon EOS 5D Mark IV", "Canon EOS R6")),
    ("NIKON CORPORATION", ("NIKON Z 6", "NIKON D850", "NIKON Z 8")),
    ("SONY", ("ILCE-7M3", "ILCE-7RM4", "ILCE-6400")),
    ("FUJIFILM", ("X-T4", "X100V", "X-T30")),
    ("Apple", ("iPhone 12", "iPhone 13 Pro", "iPhone 15 Pro", "iPhone SE")),
    ("samsung", ("SM-G991B", "SM-S918B")),
    ("Google", ("Pixel 7", "Pixel 8 Pro")),
)
LENSES = ("RF24-105mm F4 L IS USM", "NIKKOR Z 24-70mm f/4 S", "FE 24-70mm F2.8 GM", "XF35mmF1.4 R", None)
ASSET_COLUMNS = (
    "id", "ownerId", "type", "originalPath", "fileCreatedAt", "fileModifiedAt", "localDateTime",
    "checksum", "checksumAlgorithm", "originalFileName", "isFavorite", "visibility", "deletedAt", "status",
)
EXIF_COLUMNS = (
    "assetId", "city", "state", "country", "latitude", "longitude", "make", "model", "lensModel",
    "rating", "dateTimeOriginal", "exifImageWidth", "exifImageHeight", "fileSizeInByte",
)
GOALS = {"metadata": 30.0, "suggestions": 20.0, "markers": 100.0, "smart": 10.0}


def rows_for(owner: str, count: int, rng: random.Random) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    now = datetime.now(UTC)
    for i in range(count):
        taken = START + timedelta(seconds=rng.uniform(0, SPAN_S))
        roll = rng.random()
        visibility = "archive" if roll < 0.03 else "hidden" if roll < 0.035 else "timeline"
        trashed = rng.random() < 0.01
        asset_id = uuid.uuid4()
        video = rng.random() < 0.08
        asset = (
            asset_id, owner, "VIDEO" if video else "IMAGE", f"/media/upload/{owner}/{i}.jpg", taken, taken,
            taken, os.urandom(20), "sha1", f"{'MVI' if video else 'IMG'}_{i:06d}.{'mp4' if video else 'jpg'}",
            rng.random() < 0.05, visibility, now if trashed else None, "trashed" if trashed else "active",
        )
        city, state, country, lat, lon = PLACES[min(int(rng.paretovariate(1.2)) - 1, len(PLACES) - 1)
                                                if rng.random() < 0.5 else rng.randrange(len(PLACES))]
        make, models = rng.choice(CAMERAS)
        exif = (
            asset_id, city, state, country, lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05),
            make, rng.choice(models), rng.choice(LENSES), rng.choice((None, 0, 1, 2, 3, 4, 5)), taken,
            4000, 3000, rng.randint(500_000, 12_000_000),
        )
        yield asset, exif


def fill(url: str, assets: int) -> str:
    """Create the user, the partner and their assets; return the user's session token."""
    rng = random.Random(10)
    token = crypto.new_token()
    with psycopg.connect(url, autocommit=True) as conn:
        ids = []
        for email in ("bench@example.com", "partner@example.com"):
            row = conn.execute(
                'INSERT INTO "user" (email, password, name, "isAdmin") VALUES (%s, %s, %s, %s) RETURNING id',
                (email, "", email.split("@")[0], email.startswith("bench")),
            ).fetchone()
            assert row is not None
            ids.append(str(row[0]))
        conn.execute(
            'INSERT INTO partner ("sharedById", "sharedWithId", "inTimeline") VALUES (%s, %s, true)',
            (ids[1], ids[0]),
        )
        conn.execute(
            'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
            (crypto.hash_token(token), ids[0], "bench", "Linux"),
        )
        started = time.perf_counter()
        exif: list[tuple[Any, ...]] = []
        with conn.cursor() as cur:
            cols = ", ".join(f'"{c}"' for c in ASSET_COLUMNS)
            with cur.copy(f"COPY asset ({cols}) FROM STDIN") as copy:
                for owner, count in ((ids[0], assets), (ids[1], assets // 10)):
                    for asset, exif_row in rows_for(owner, count, rng):
                        copy.write_row(asset)
                        exif.append(exif_row)
            cols = ", ".join(f'"{c}"' for c in EXIF_COLUMNS)
            with cur.copy(f"COPY asset_exif ({cols}) FROM STDIN") as copy:
                for exif_row in exif:
                    copy.write_row(exif_row)
        conn.execute("VACUUM ANALYZE asset")
        conn.execute("VACUUM ANALYZE asset_exif")
        if conn.execute("SELECT to_regclass('immich_trio.map_marker')").fetchone() != (None,):
            conn.execute("VACUUM ANALYZE immich_trio.map_marker")  # filled by its triggers
        print(f"filled {len(exif)} assets (+exif) in {time.perf_counter() - started:.1f} s")
    return token


def wait_for_places(url: str, timeout: float = 600) -> None:
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            row = conn.execute(
                "SELECT 1 FROM system_metadata WHERE key = 'reverse-geocoding-state'"
            ).fetchone()
            if row is not None:
                count = conn.execute("SELECT count(*) FROM geodata_places").fetchone()
                print(f"places imported ({count[0] if count else 0} rows) after {time.monotonic() - started:.0f} s")
                conn.execute("VACUUM ANALYZE geodata_places")
                return
            time.sleep(1)
    raise SystemExit("places were not imported in time")


class Client:
    """One kept-alive HTTP connection with the user's bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: Any = None) -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, "/api" + path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        if response.status not in (200, 201):
            raise SystemExit(f"{method} {path}: {response.status} {raw[:300]!r}")
        return raw


COLD_MARKERS = "/map/markers?fileCreatedBefore={instant}"


def cold_path(path: str, round_: int) -> str:
    """``path`` with ``{instant}`` replaced by an instant in 2030, one microsecond per round."""
    instant = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(microseconds=round_)
    return path.replace("{instant}", instant.isoformat(timespec="microseconds").replace("+00:00", "Z"))


SHAPES: tuple[tuple[str, str | None, str, str, Any], ...] = (
    ("POST /search/metadata city+make+takenAfter", "metadata", "POST", "/search/metadata",
     {"city": "Paris", "make": "Canon", "takenAfter": "2020-01-01T00:00:00.000Z"}),
    # "IMG_01" shares its trigrams with every file name, so the trigram index hands back every
    # row for recheck (as in Immich); "IMG_0421" is a file-number search the index narrows.
    ("POST /search/metadata +originalFileName", "metadata", "POST", "/search/metadata",
     {"originalFileName": "IMG_01", "make": "SONY", "takenAfter": "2018-01-01T00:00:00.000Z"}),
    ("POST /search/metadata +originalFileName IMG_0421", "metadata", "POST", "/search/metadata",
     {"originalFileName": "IMG_0421", "make": "SONY", "takenAfter": "2018-01-01T00:00:00.000Z"}),
    ("POST /search/metadata country+model+rating", "metadata", "POST", "/search/metadata",
     {"country": "Japan", "model": "iPhone 13 Pro", "rating": 5}),
    ("GET /search/suggestions city&country", "suggestions", "GET",
     "/search/suggestions?" + urlencode({"type": "city", "country": "France"}), None),
    ("GET /search/suggestions camera-model&make", "suggestions", "GET",
     "/search/suggestions?" + urlencode({"type": "camera-model", "make": "Apple"}), None),
    ("GET /search/suggestions country", "suggestions", "GET", "/search/suggestions?type=country", None),
    ("GET /map/markers", "markers", "GET", "/map/markers", None),
    # A new question each round (an instant one microsecond later: the same markers), so no
    # answer comes from the snapshot cache: what a first visit of the map costs.
    ("GET /map/markers cold", "markers", "GET", COLD_MARKERS, None),
    ("GET /map/reverse-geocode", None, "GET", "/map/reverse-geocode?lat=48.8566&lon=2.3522", None),
    ("POST /search/statistics city+make", None, "POST", "/search/statistics", {"city": "Paris", "make": "Canon"}),
    ("GET /search/cities", None, "GET", "/search/cities", None),
    ("GET /search/explore", None, "GET", "/search/explore", None),
)


def cpu_ms(server: int, postmaster: int) -> float:
    """CPU time so far of the server process, its children and PostgreSQL's backends."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == server or int(fields[1]) in (server, postmaster):
            total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def postmaster_pid(url: str) -> int | None:
    """PostgreSQL's postmaster when it runs on this machine (the parent of a backend)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    try:
        stat = Path(f"/proc/{row[0] if row else 0}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def bench(client: Client, rounds: int, pids: tuple[int, int | None], smart_ids: list[str]) -> None:
    """p50/p95 of each shape, and the CPU time the server and PostgreSQL spent per request
    (steadier than wall time on a loaded machine)."""
    print(f"\n{'request':50} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>7} {'goal':>6}  verdict  size")
    server, postmaster = pids
    for title, goal_key, method, path, body in SHAPES + (SMART_SHAPES if smart_ids else ()):
        samples: list[float] = []
        size = 0
        cpu_before = 0.0
        for i in range(rounds + 5):
            if i == 5 and postmaster is not None:
                cpu_before = cpu_ms(server, postmaster)
            started = time.perf_counter()
            asked = body
            if isinstance(body, dict) and body.get("queryAssetId") == "{asset}":
                asked = {**body, "queryAssetId": smart_ids[i % len(smart_ids)]}
            raw = client.request(method, cold_path(path, i), asked)
            elapsed = (time.perf_counter() - started) * 1000
            size = len(raw)
            if i >= 5:  # warm-up
                samples.append(elapsed)
        cpu = (cpu_ms(server, postmaster) - cpu_before) / rounds if postmaster is not None else float("nan")
        p50, p95 = percentiles(samples)
        goal = GOALS.get(goal_key or "")
        verdict = "-" if goal is None else "ok" if p50 <= goal else "MISS"
        goal_text = f"{goal:.0f}" if goal else "-"
        print(f"{title:50} {p50:8.1f} {p95:8.1f} {cpu:7.1f} {goal_text:>6}  {verdict:7}  {size} B", flush=True)


EXPLAINS = {
    "markers": """
SELECT '[' || coalesce(string_agg(concat('{"id":"', m.id, '","lat":', m.lat, ',"lon":', m.lon,
    ',"city":', coalesce(to_json(m.city)::text, 'null'), ',"state":', coalesce(to_json(m.state)::text, 'null'),
    ',"country":', coalesce(to_json(m.country)::text, 'null'), '}'), ','), '') || ']'
FROM (SELECT a.id, e.latitude AS lat, e.longitude AS lon, e.city, e.state, e.country
      FROM asset a JOIN asset_exif e ON e."assetId" = a.id AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL
      WHERE a."deletedAt" IS NULL AND a.visibility = 'timeline' AND a."ownerId" = ANY(%(owners)s::uuid[])
      ORDER BY a."fileCreatedAt" DESC) m""",
    "suggestions camera-model": """
SELECT DISTINCT ON (e.model) e.model FROM asset_exif e JOIN asset a ON a.id = e."assetId"
WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
  AND e.model IS NOT NULL AND e.model <> '' AND e.make = 'Apple' ORDER BY e.model""",
    "metadata city+make+takenAfter": """
SELECT a.* FROM asset a JOIN asset_exif e ON e."assetId" = a.id
WHERE a."ownerId" = ANY(%(owners)s::uuid[]) AND (a."ownerId" = %(me)s::uuid OR a.visibility = 'timeline')
  AND a.visibility <> 'locked' AND a."fileCreatedAt" >= '2020-01-01' AND e.city = 'Paris' AND e.make = 'Canon'
  AND a."deletedAt" IS NULL ORDER BY a."fileCreatedAt" DESC, a.id DESC LIMIT 251 OFFSET 0""",
}


def explain(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute('SELECT id FROM "user" ORDER BY email').fetchall()]
        params = {"owners": ids, "me": ids[0]}
        for title, query in EXPLAINS.items():
            print(f"\nEXPLAIN ANALYZE {title}:")
            for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall():
                print("   ", line)


def calibrate(url: str) -> None:
    """The floor on this machine right now: one full pass over ``asset_exif`` (what every
    filter on a column without an index in Immich's schema costs: make, model, country...)."""
    samples = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(20):
            started = time.perf_counter()
            # make || '' is no indexed expression: a full pass whatever indexes exist
            conn.execute("SELECT count(*) FROM asset_exif WHERE make || '' = 'Apple'").fetchone()
            samples.append((time.perf_counter() - started) * 1000)
    p50, _ = percentiles(samples)
    print(f"\ncalibration: one pass over asset_exif: {p50:.1f} ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a PostgreSQL server (role allowed to create databases)")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--no-places", action="store_true", help="skip the GeoNames import")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--smart", action="store_true", help="also smart search (builds clip_index: minutes)")
    args = parser.parse_args()
    with postgres_server(args.db_url) as server_url:
        name = "bench_search_" + uuid.uuid4().hex[:8]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        work = Path(tempfile.mkdtemp(prefix="bench-search-"))
        proc = None
        try:
            trio.run(migrate_url, url)
            token = fill(url, args.assets)
            smart_ids = fill_smart(url) if args.smart else []
            port = free_port()
            env = {
                **os.environ, "DB_URL": url, "IMMICH_MEDIA_LOCATION": str(work / "media"),
                "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1",
                "IMMICH_REVERSE_GEOCODING_IMPORT": "false" if args.no_places else "true",
            }
            log = (work / "server.log").open("wb")
            proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            wait_ready(f"http://127.0.0.1:{port}", proc)
            if not args.no_places:
                wait_for_places(url)
            time.sleep(1)  # let the start-up work settle
            calibrate(url)
            bench(Client(port, token), args.rounds, (proc.pid, postmaster_pid(url)), smart_ids)
            if args.explain:
                explain(url)
        finally:
            if proc is not None:
                stop_server(proc)
            shutil.rmtree(work, ignore_errors=True)
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
