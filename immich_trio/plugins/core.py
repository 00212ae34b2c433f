"""The core plugin's methods in Python, with the WebAssembly originals' outcomes.

A method sees the step's config and the workflow's data (``AssetV1``: the asset with its exif
and tag ids) and answers a ``StepOutcome``: whether the workflow goes on (filters), the asset
changes to apply (visibility, favourite), or a request for a host function (albums). The
runner applies them; nothing here touches the database.

Every method of the manifest is implemented: the filters (file name, type, camera, date,
location, missing time zone) and the actions archive, lock, visibility, favourite,
add-to-albums and webhook (a request the runner sends: ``{type, trigger, data}`` as JSON).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import attrs

NOT_IMPLEMENTED = "Method {} is not implemented by this server"
EARTH_DIAMETER_KM = 12742


@attrs.frozen(kw_only=True)
class AlbumRequest:
    """``assetAddToAlbums``: the albums to add the asset to, or the name to find or create."""

    album_ids: tuple[str, ...]
    album_name: str | None


@attrs.frozen(kw_only=True)
class WebhookRequest:
    """``webhook``: where to send the workflow's data, with the configured header."""

    url: str
    method: str
    headers: Mapping[str, str]


@attrs.frozen(kw_only=True)
class StepOutcome:
    proceed: bool = True
    changes: Mapping[str, Any] = attrs.field(factory=dict)
    """Asset columns to set: ``visibility``, ``isFavorite``."""
    albums: AlbumRequest | None = None
    webhook: WebhookRequest | None = None


class MethodNotImplemented(Exception):
    pass


Method = Callable[[Mapping[str, Any], Mapping[str, Any]], StepOutcome]


def _match(value: str, config: Mapping[str, Any]) -> StepOutcome:
    pattern = str(config.get("pattern", ""))
    match_type = config.get("matchType") or "contains"
    case_sensitive = bool(config.get("caseSensitive", False))
    subject = value if case_sensitive else value.lower()
    wanted = pattern if case_sensitive else pattern.lower()
    if match_type == "contains":
        return StepOutcome(proceed=wanted in subject)
    if match_type == "exact":
        return StepOutcome(proceed=subject == wanted)
    if match_type == "startsWith":
        return StepOutcome(proceed=subject.startswith(wanted))
    if match_type == "regex":
        flags = 0 if case_sensitive else re.IGNORECASE
        return StepOutcome(proceed=re.search(wanted, value, flags) is not None)
    return StepOutcome()


def _asset(data: Mapping[str, Any]) -> Mapping[str, Any]:
    asset: Mapping[str, Any] = data["asset"]
    return asset


def _exif(data: Mapping[str, Any]) -> Mapping[str, Any]:
    exif = _asset(data).get("exifInfo")
    return exif if isinstance(exif, Mapping) else {}


def asset_file_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    return _match(str(_asset(data).get("originalFileName") or ""), config)


def asset_type_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    allowed = config.get("allowedTypes") or []
    return StepOutcome(proceed=_asset(data).get("type") in allowed)


def asset_exif_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    value = _exif(data).get(str(config.get("property")))
    if value is None:
        return StepOutcome(proceed=False)
    return _match(str(value), config)


def _day(parts: Mapping[str, Any]) -> date:
    return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))


def _with_year(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year rolls over, as JavaScript's Date does
        return date(year, 3, 1)


def asset_date_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    taken = _asset(data)["localDateTime"]
    when = taken if isinstance(taken, datetime) else datetime.fromisoformat(str(taken).replace("Z", "+00:00"))
    moment = when.replace(tzinfo=None)
    start = _day(config["startDate"])
    end = _day(config["endDate"]) + timedelta(days=1)
    if config.get("recurring"):
        start, end = _with_year(start, moment.year), _with_year(end, moment.year)
        if end < start:
            if moment.date() >= end:
                end = _with_year(end, end.year + 1)
            else:
                start = _with_year(start, start.year - 1)
    begin = datetime.combine(start, datetime.min.time())
    finish = datetime.combine(end, datetime.min.time())
    return StepOutcome(proceed=begin <= moment < finish)


def asset_location_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    exif = _exif(data)
    region = config.get("region") or {}
    for part in ("country", "state", "city"):
        if region.get(part) and region[part] != exif.get(part):
            return StepOutcome(proceed=False)
    coordinate = config.get("coordinate") or {}
    lat, lon = coordinate.get("latitude"), coordinate.get("longitude")
    if lat is None or lon is None:
        return StepOutcome()
    asset_lat, asset_lon = exif.get("latitude"), exif.get("longitude")
    if asset_lat is None or asset_lon is None:
        return StepOutcome(proceed=False)
    rad = math.pi / 180
    delta = math.asin(
        math.sqrt(
            math.sin((asset_lat - lat) * rad / 2) ** 2
            + math.cos(asset_lat * rad) * math.cos(lat * rad) * math.sin((asset_lon - lon) * rad / 2) ** 2
        )
    )
    return StepOutcome(proceed=EARTH_DIAMETER_KM * delta <= float(coordinate.get("radius") or 0))


def asset_missing_time_zone_filter(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    has_zone = bool(_exif(data).get("timeZone"))
    return StepOutcome(proceed=has_zone == bool(config.get("inverse")))


def _toggle_visibility(target: str, config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    current = _asset(data).get("visibility")
    if not config.get("inverse") and current != target:
        return StepOutcome(changes={"visibility": target})
    if config.get("inverse") and current == target:
        return StepOutcome(changes={"visibility": "timeline"})
    return StepOutcome()


def asset_archive(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    return _toggle_visibility("archive", config, data)


def asset_lock(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    return _toggle_visibility("locked", config, data)


def asset_visibility(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    return StepOutcome(changes={"visibility": str(config["visibility"])})


def asset_favorite(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    target = not config.get("inverse")
    if target != bool(_asset(data).get("isFavorite")):
        return StepOutcome(changes={"isFavorite": target})
    return StepOutcome()


def asset_add_to_albums(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    ids = tuple(str(i) for i in config.get("albumIds") or ())
    name = config.get("albumName")
    if not ids and not name:
        return StepOutcome()
    return StepOutcome(albums=AlbumRequest(album_ids=ids, album_name=None if ids else str(name)))


def webhook(config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    headers: dict[str, str] = {}
    if config.get("headerName") and config.get("headerValue"):
        headers[str(config["headerName"])] = str(config["headerValue"])
    headers["Content-Type"] = "application/json"
    request = WebhookRequest(url=str(config["url"]), method=str(config.get("method") or "POST"), headers=headers)
    return StepOutcome(webhook=request)


METHODS: dict[str, Method] = {
    "assetFileFilter": asset_file_filter,
    "assetTypeFilter": asset_type_filter,
    "assetExifFilter": asset_exif_filter,
    "assetDateFilter": asset_date_filter,
    "assetLocationFilter": asset_location_filter,
    "assetMissingTimeZoneFilter": asset_missing_time_zone_filter,
    "assetArchive": asset_archive,
    "assetLock": asset_lock,
    "assetVisibility": asset_visibility,
    "assetFavorite": asset_favorite,
    "assetAddToAlbums": asset_add_to_albums,
    "webhook": webhook,
}
"""Every method of the core manifest (a test keeps the two lists equal)."""


def run_method(name: str, config: Mapping[str, Any], data: Mapping[str, Any]) -> StepOutcome:
    method = METHODS.get(name)
    if method is None:
        raise MethodNotImplemented(NOT_IMPLEMENTED.format(name))
    return method(config, data)
