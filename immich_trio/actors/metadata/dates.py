"""Capture date and time zone of an asset from its exiftool tags (pure functions).

Implements the reference's date rules (pipeline.md §6) plus the time-zone inference that
Immich gets from exiftool-vendored: explicit offset tags, then the zone at the GPS position,
then an offset written in a capture date, then the difference between local and UTC (GPS)
time stamps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

#: Capture date tags, in order of preference (the first one holding a date-time wins).
DATE_TAGS: tuple[str, ...] = (
    "SubSecDateTimeOriginal",
    "SubSecCreateDate",
    "DateTimeOriginal",
    "CreationDate",
    "CreateDate",
    "MediaCreateDate",
    "DateTimeCreated",
    "GPSDateTime",
    "DateTimeUTC",
    "SonyDateTime2",
    "SourceImageCreateTime",
)
#: Tags naming the zone or offset explicitly, in order of preference.
OFFSET_TAGS: tuple[str, ...] = (
    "OffsetTimeOriginal",
    "OffsetTimeDigitized",
    "OffsetTime",
    "TimeZone",
    "TimeZoneOffset",
)
#: Date tags that hold UTC by definition: compared with local dates to infer an offset.
UTC_DATE_TAGS: tuple[str, ...] = ("GPSDateTime", "DateTimeUTC")
#: Zone-related tags discarded from the file when the sidecar has a date.
ZONE_TAGS: tuple[str, ...] = OFFSET_TAGS

MAX_OFFSET = timedelta(hours=14)
OFFSET_STEP_MINUTES = 15

#: ``(latitude, longitude) -> IANA zone name`` (e.g. timezonefinder); None when unknown.
TimezoneLookup = Callable[[float, float], str | None]

_DATE_RE = re.compile(
    r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+\-]\d{2}(?::?\d{2})?)?"
)
_OFFSET_RE = re.compile(r"^\s*(Z|UTC|GMT)?\s*([+\-])?(\d{1,2})(?::?(\d{2}))?\s*$")


@attrs.frozen(kw_only=True)
class ExifDate:
    """A date-time as written in a tag: wall clock plus the offset, if one was written."""

    raw: str
    wall: datetime  # naive
    offset: timedelta | None


@attrs.frozen(kw_only=True)
class Zone:
    """The asset's time zone: the ``timeZone`` column value and the tzinfo it stands for."""

    name: str
    tz: tzinfo


@attrs.frozen(kw_only=True)
class CaptureDates:
    date_time_original: datetime  # aware, UTC
    local_date_time: datetime  # local wall clock labelled UTC
    time_zone: str | None


def parse_exif_date(value: Any) -> ExifDate | None:
    """A full date-time (dates without a time, zero dates and junk give None)."""
    if not isinstance(value, str):
        return None
    m = _DATE_RE.match(value)
    if m is None:
        return None
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    try:
        wall = datetime(year, month, day, hour, minute, min(second, 59), int(frac))
    except ValueError:
        return None
    if year < 1:
        return None
    offset = _parse_offset(m.group(8)) if m.group(8) else None
    return ExifDate(raw=value, wall=wall, offset=offset)


def _parse_offset(value: Any) -> timedelta | None:
    """'+02:00', '-0530', 'Z', 'UTC+2', 2 (hours) or [2, 0] → offset, if within ±14 h."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        delta = timedelta(hours=float(value))
    elif str(value).strip().upper() in ("Z", "UTC", "GMT"):
        delta = timedelta(0)
    else:
        m = _OFFSET_RE.match(str(value))
        if m is None:
            return None
        prefix, sign, hours, minutes = m.groups()
        if prefix is None and sign is None:
            return None  # a bare number in a string is too ambiguous
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if sign == "-":
            delta = -delta
    return delta if abs(delta) <= MAX_OFFSET else None


def offset_zone(offset: timedelta) -> Zone:
    """Fixed-offset zone named like exiftool-vendored: 'UTC', 'UTC+2', 'UTC-5:30'."""
    minutes = round(offset.total_seconds() / 60)
    if minutes == 0:
        return Zone(name="UTC", tz=UTC)
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    name = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return Zone(name=name, tz=timezone(timedelta(minutes=minutes)))


def named_zone(name: str) -> Zone | None:
    try:
        return Zone(name=name, tz=ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def stored_zone(value: str) -> Zone | None:
    """The zone a stored ``timeZone`` stands for: a fixed ``UTC+2`` or an IANA name."""
    offset = _parse_offset(value)
    return offset_zone(offset) if offset is not None else named_zone(value)


def first_date(tags: Mapping[str, Any]) -> ExifDate | None:
    for tag in DATE_TAGS:
        parsed = parse_exif_date(tags.get(tag))
        if parsed is not None:
            return parsed
    return None


def gps_position(tags: Mapping[str, Any]) -> tuple[float, float] | None:
    """Latitude/longitude when both are numbers, in range, and not both 0."""
    lat, lon = tags.get("GPSLatitude"), tags.get("GPSLongitude")
    if isinstance(lat, list):
        lat = lat[0] if lat else None
    if isinstance(lon, list):
        lon = lon[0] if lon else None
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    if not _is_number(lat) or not _is_number(lon):
        return None
    lat, lon = float(lat), float(lon)
    if lat == 0 and lon == 0:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def infer_zone(tags: Mapping[str, Any], lookup: TimezoneLookup | None) -> Zone | None:
    """Zone of one exiftool read (the file, or the sidecar), as exiftool-vendored infers it."""
    for tag in OFFSET_TAGS:
        offset = _parse_offset(tags.get(tag))
        if offset is not None:
            return offset_zone(offset)
    position = gps_position(tags)
    if position is not None and lookup is not None:
        name = lookup(*position)
        zone = named_zone(name) if name else None
        if zone is not None:
            return zone
    for tag in DATE_TAGS:
        if tag in UTC_DATE_TAGS:
            continue
        parsed = parse_exif_date(tags.get(tag))
        # UTC stamps are skipped: many devices write them whatever the local zone is.
        if parsed is not None and parsed.offset:
            return offset_zone(parsed.offset)
    return _zone_from_utc_delta(tags)


def _zone_from_utc_delta(tags: Mapping[str, Any]) -> Zone | None:
    utc = next((d for t in UTC_DATE_TAGS if (d := parse_exif_date(tags.get(t))) is not None), None)
    if utc is None or (utc.offset is not None and utc.offset):
        return None
    local = next(
        (
            d
            for t in DATE_TAGS
            if t not in UTC_DATE_TAGS
            and (d := parse_exif_date(tags.get(t))) is not None
            and d.offset is None
        ),
        None,
    )
    if local is None:
        return None
    step = OFFSET_STEP_MINUTES * 60
    seconds = round((local.wall - utc.wall).total_seconds() / step) * step
    delta = timedelta(seconds=seconds)
    if abs(delta) > MAX_OFFSET:
        return None
    return offset_zone(delta)


def to_ms(value: datetime) -> datetime:
    """Immich keeps JavaScript dates: millisecond precision."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def capture_dates(date: ExifDate, zone: Zone | None, *, is_video: bool) -> CaptureDates:
    """Instant and local time of a capture date.

    A written offset fixes the instant; its wall clock is the local time (a UTC stamp is
    shown in the known zone instead). Without an offset, an image's wall clock is local time
    in the zone (UTC when unknown); a video's is UTC (QuickTime stores UTC) shown in the zone.
    """
    if date.offset is not None:
        instant = date.wall.replace(tzinfo=timezone(date.offset))
        if date.offset == timedelta(0) and zone is not None:
            local = instant.astimezone(zone.tz).replace(tzinfo=None)
        else:
            local = date.wall
    elif is_video:
        instant = date.wall.replace(tzinfo=UTC)
        local = instant.astimezone(zone.tz).replace(tzinfo=None) if zone else date.wall
    else:
        instant = date.wall.replace(tzinfo=zone.tz if zone else UTC)
        local = date.wall
    time_zone = zone.name if zone else None
    if time_zone is None and (date.raw.rstrip().endswith(("Z", "+00:00"))):
        time_zone = "UTC+0"
    return CaptureDates(
        date_time_original=to_ms(instant.astimezone(UTC)),
        local_date_time=to_ms(local.replace(tzinfo=UTC)),
        time_zone=time_zone,
    )


def default_timezone_lookup() -> TimezoneLookup | None:
    """timezonefinder's lookup when that package is installed, else None (no GPS zones)."""
    try:
        from timezonefinder import TimezoneFinder
    except ImportError:
        return None
    finder = TimezoneFinder()

    def lookup(latitude: float, longitude: float) -> str | None:
        name = finder.timezone_at(lat=latitude, lng=longitude)
        return name if isinstance(name, str) else None

    return lookup
