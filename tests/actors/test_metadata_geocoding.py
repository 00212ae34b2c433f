"""Reverse geocoding at metadata extraction: a real JPEG with GPS written by exiftool, the
places loaded from Immich's files, ``reverseGeocoding.enabled`` on and off."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from test_geodata_loader import immich_files  # noqa: F401  (fixture)
from test_metadata_actor import add_asset, commit, run_job, start

from immich_trio import sysconfig
from immich_trio.actors.geodata.loader import import_geodata
from immich_trio.actors.geodata.sources import folder_source
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
LIMIT = 60


def gps_jpeg(test_assets: Path, tmp_path: Path, name: str, lat: float, lon: float) -> Path:
    source = next((test_assets / "formats" / "jpg").glob("*.jpg"))
    out = tmp_path / name
    shutil.copyfile(source, out)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original",
         f"-GPSLatitude={abs(lat)}", f"-GPSLatitudeRef={'N' if lat >= 0 else 'S'}",
         f"-GPSLongitude={abs(lon)}", f"-GPSLongitudeRef={'E' if lon >= 0 else 'W'}", str(out)],
        check=True,
    )
    return out


@pytest.fixture
async def places(pool: Pool, immich_files: Path) -> None:  # noqa: F811
    source = folder_source(immich_files)
    assert source is not None
    with trio.fail_after(LIMIT):
        await import_geodata(pool, source)


async def test_gps_fills_city_state_country(
    nursery: trio.Nursery, pool: Pool, places: None, media: Path, owner: str, sql: Sql, test_assets: Path,
    tmp_path: Path,
) -> None:
    actor = await start(nursery, pool, media)
    exif_of = 'SELECT latitude, longitude, city, state, country FROM asset_exif WHERE "assetId" = %s'
    paris, _ = add_asset(sql, media, owner, gps_jpeg(test_assets, tmp_path, "paris.jpg", 48.8566, 2.3522))
    await commit(pool, await run_job(actor, paris))
    [(lat, lon, city, state, country)] = sql(exif_of, (paris,))
    assert round(lat, 3) == 48.857 and round(lon, 3) == 2.352
    assert (city, state, country) == ("Paris", "Île-de-France", "France")

    field, _ = add_asset(sql, media, owner, gps_jpeg(test_assets, tmp_path, "field.jpg", 45.5, 0.5))
    await commit(pool, await run_job(actor, field))
    assert sql(exif_of, (field,))[0][2:] == (None, None, "France")  # the country polygon

    sea, _ = add_asset(sql, media, owner, gps_jpeg(test_assets, tmp_path, "sea.jpg", 40.0, -30.0))
    await commit(pool, await run_job(actor, sea))
    assert sql(exif_of, (sea,))[0][2:] == (None, None, None)


async def test_disabled_reverse_geocoding_leaves_places_empty(
    nursery: trio.Nursery, pool: Pool, places: None, media: Path, owner: str, sql: Sql, test_assets: Path,
    tmp_path: Path,
) -> None:
    actor = await start(nursery, pool, media)
    config = copy.deepcopy(sysconfig.defaults())
    config["reverseGeocoding"]["enabled"] = False
    actor.apply_config(config)
    paris, _ = add_asset(sql, media, owner, gps_jpeg(test_assets, tmp_path, "paris.jpg", 48.8566, 2.3522))
    await commit(pool, await run_job(actor, paris))
    assert sql('SELECT city, state, country FROM asset_exif WHERE "assetId" = %s', (paris,)) == [
        (None, None, None)
    ]
