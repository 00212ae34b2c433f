"""``SidecarWrite``: the user's edits written into the asset's XMP sidecar, as Immich does.

Immich writes the properties the user locked by editing them (``lockedProperties``), read from
``asset_exif`` at run time, so a job queued for an older edit writes the newest value:
description (``Description`` and ``ImageDescription``), ``DateTimeOriginal`` (in the asset's
time zone), ``GPSLatitude``/``GPSLongitude``, ``Rating`` and the tag values (``TagsList``).
A null value deletes the tag. The sidecar is the asset's existing one or ``<original>.xmp``,
recorded in ``asset_file`` (type ``sidecar``); a re-extraction of metadata
(``source: sidecar-write``) follows, as Immich's ``onDone`` queues it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from psycopg import AsyncConnection

from immich_trio.actors.metadata.dates import stored_zone
from immich_trio.jobs.names import JobName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import sidecars as sidecars_q

Conn = AsyncConnection[Any]

ExifWrite = tuple[str, str | None]

SIDECAR_SUFFIX = ".xmp"
EXTRACTION_SOURCE = "sidecar-write"


@attrs.frozen(kw_only=True)
class SidecarPlan:
    """Where to write, what, and whether the path is new to ``asset_file``."""

    path: str
    writes: tuple[ExifWrite, ...]
    is_new: bool


def _exif_date(value: datetime, time_zone: str | None) -> str:
    """``YYYY:MM:DD HH:MM:SS.sss+HH:MM`` in the asset's zone (UTC when it has none)."""
    zone = stored_zone(time_zone) if time_zone else None
    local = value.astimezone(zone.tz if zone is not None else UTC)
    offset = local.utcoffset()
    minutes = round(offset.total_seconds() / 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    millis = local.microsecond // 1000
    return f"{local:%Y:%m:%d %H:%M:%S}.{millis:03d}{sign}{hours:02d}:{rest:02d}"


def _number(value: Any) -> str | None:
    return None if value is None else repr(float(value)) if isinstance(value, float) else str(value)


def exif_writes(row: Mapping[str, Any]) -> list[ExifWrite]:
    """The tags to write for an asset row of ``sql.sidecars.for_sidecar_write``."""
    locked = frozenset(row["lockedProperties"] or ())
    writes: list[ExifWrite] = []
    if "description" in locked:
        description = row["description"]
        writes += [("Description", description), ("ImageDescription", description)]
    if "dateTimeOriginal" in locked:
        taken = row["dateTimeOriginal"]
        writes.append(("DateTimeOriginal", None if taken is None else _exif_date(taken, row["timeZone"])))
    if "latitude" in locked:
        writes.append(("GPSLatitude", _number(row["latitude"])))
    if "longitude" in locked:
        writes.append(("GPSLongitude", _number(row["longitude"])))
    if "rating" in locked:
        writes.append(("Rating", _number(row["rating"])))
    if "tags" in locked:
        values: Sequence[str] = row["tags"] or ()
        # A list tag: one assignment per item replaces the whole list; none clears it.
        writes += [("TagsList", value) for value in values] or [("TagsList", None)]
    return writes


def plan_sidecar(row: Mapping[str, Any]) -> SidecarPlan | None:
    """What ``SidecarWrite`` does for this asset; None when nothing is locked (``skipped``)."""
    writes = exif_writes(row)
    if not writes:
        return None
    existing = row["sidecarPath"]
    path = existing or f"{row['originalPath']}{SIDECAR_SUFFIX}"
    return SidecarPlan(path=str(path), writes=tuple(writes), is_new=not existing)


async def apply_sidecar_write(conn: Conn, *, asset_id: str, new_path: str | None) -> None:
    """In the dispatcher's transaction: record a new sidecar, then re-extract the asset's
    metadata from it (which tells the owner's clients ``on_asset_update``)."""
    if new_path is not None:
        await sidecars_q.record_sidecar(conn, asset_id, new_path)
    await jobs_q.enqueue_job(
        conn, JobName.ASSET_EXTRACT_METADATA, {"id": asset_id, "source": EXTRACTION_SOURCE}
    )
