"""The core plugin's methods, natively: each filter's verdict and each action's changes on
``AssetV1`` data, as the WebAssembly originals answer them; and the manifest and the methods
list the same names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from immich_trio.plugins.core import (
    METHODS,
    AlbumRequest,
    MethodNotImplemented,
    StepOutcome,
    WebhookRequest,
    run_method,
)
from immich_trio.plugins.manifest import compatible, core_manifest, parse_method_key


def data(**asset: Any) -> dict[str, Any]:
    base = {
        "id": "a1", "type": "IMAGE", "originalFileName": "Screenshot_2024.PNG", "visibility": "timeline",
        "isFavorite": False, "localDateTime": datetime(2024, 12, 30, 18, 0),
        "exifInfo": {"make": "Canon", "model": "EOS R5", "lensModel": None, "timeZone": None,
                     "country": "France", "state": "Île-de-France", "city": "Paris",
                     "latitude": 48.8566, "longitude": 2.3522},
    }
    return {"asset": {**base, **asset}}


def passes(method: str, config: dict[str, Any], **asset: Any) -> bool:
    return run_method(method, config, data(**asset)).proceed


def test_every_manifest_method_has_its_native_counterpart() -> None:
    assert sorted(m["name"] for m in core_manifest().methods) == sorted(METHODS)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"pattern": "screenshot"}, True),
        ({"pattern": "screenshot", "caseSensitive": True}, False),
        ({"pattern": "Screenshot", "matchType": "startsWith", "caseSensitive": True}, True),
        ({"pattern": "screenshot_2024.png", "matchType": "exact"}, True),
        ({"pattern": "screenshot", "matchType": "exact"}, False),
        ({"pattern": r"_\d{4}\.png$", "matchType": "regex"}, True),
        ({"pattern": r"^shot", "matchType": "regex"}, False),
        ({"pattern": "x", "matchType": "unknown"}, True),
    ],
)
def test_file_name_filter(config: dict[str, Any], expected: bool) -> None:
    assert passes("assetFileFilter", config) is expected


def test_type_exif_and_time_zone_filters() -> None:
    assert passes("assetTypeFilter", {"allowedTypes": ["IMAGE", "VIDEO"]})
    assert not passes("assetTypeFilter", {"allowedTypes": ["VIDEO"]})
    assert passes("assetExifFilter", {"property": "make", "pattern": "canon", "matchType": "exact"})
    assert not passes("assetExifFilter", {"property": "lensModel", "pattern": ""})
    assert not passes("assetExifFilter", {"property": "make", "pattern": "canon"}, exifInfo=None)
    assert passes("assetMissingTimeZoneFilter", {})
    assert not passes("assetMissingTimeZoneFilter", {"inverse": True})
    assert passes("assetMissingTimeZoneFilter", {"inverse": True}, exifInfo={"timeZone": "Europe/Paris"})


def day(year: int, month: int, d: int) -> dict[str, int]:
    return {"year": year, "month": month, "day": d}


def test_date_filter_including_the_last_day_and_recurring_ranges_across_new_year() -> None:
    assert passes("assetDateFilter", {"startDate": day(2024, 12, 1), "endDate": day(2024, 12, 30)})
    assert not passes("assetDateFilter", {"startDate": day(2024, 12, 1), "endDate": day(2024, 12, 29)})
    winter = {"startDate": day(2000, 12, 20), "endDate": day(2000, 1, 5), "recurring": True}
    assert passes("assetDateFilter", winter)
    assert passes("assetDateFilter", winter, localDateTime="2031-01-03T09:00:00.000Z")
    assert not passes("assetDateFilter", winter, localDateTime=datetime(2031, 6, 1))
    assert not passes("assetDateFilter", {"startDate": day(2000, 12, 1), "endDate": day(2000, 12, 31)})


def test_location_filter_by_region_and_distance() -> None:
    assert passes("assetLocationFilter", {"region": {"country": "France", "city": "Paris"}})
    assert not passes("assetLocationFilter", {"region": {"city": "Lyon"}})
    near = {"coordinate": {"latitude": 48.86, "longitude": 2.35, "radius": 5}}
    assert passes("assetLocationFilter", near)
    assert not passes("assetLocationFilter", {"coordinate": {"latitude": 45.76, "longitude": 4.83, "radius": 100}})
    assert not passes("assetLocationFilter", near, exifInfo={"latitude": None, "longitude": None})
    assert passes("assetLocationFilter", {"coordinate": {"radius": 1}})


def test_actions_answer_only_the_changes_needed() -> None:
    assert run_method("assetArchive", {}, data()) == StepOutcome(changes={"visibility": "archive"})
    assert run_method("assetArchive", {}, data(visibility="archive")) == StepOutcome()
    assert run_method("assetArchive", {"inverse": True}, data(visibility="archive")).changes == {"visibility": "timeline"}
    assert run_method("assetLock", {}, data()).changes == {"visibility": "locked"}
    assert run_method("assetLock", {"inverse": True}, data()).changes == {}
    assert run_method("assetVisibility", {"visibility": "archive"}, data()).changes == {"visibility": "archive"}
    assert run_method("assetFavorite", {}, data()).changes == {"isFavorite": True}
    assert run_method("assetFavorite", {"inverse": True}, data(isFavorite=True)).changes == {"isFavorite": False}
    assert run_method("assetFavorite", {}, data(isFavorite=True)) == StepOutcome()


def test_add_to_albums_asks_for_ids_or_a_name() -> None:
    assert run_method("assetAddToAlbums", {"albumIds": ["b1", "b2"]}, data()).albums == AlbumRequest(
        album_ids=("b1", "b2"), album_name=None
    )
    assert run_method("assetAddToAlbums", {"albumIds": [], "albumName": "Shots"}, data()).albums == AlbumRequest(
        album_ids=(), album_name="Shots"
    )
    assert run_method("assetAddToAlbums", {"albumIds": []}, data()) == StepOutcome()


def test_webhook_asks_to_send_with_the_configured_header() -> None:
    outcome = run_method("webhook", {"url": "http://hooks.test/x", "headerName": "X-Token", "headerValue": "s"}, data())
    assert outcome == StepOutcome(webhook=WebhookRequest(
        url="http://hooks.test/x", method="POST", headers={"X-Token": "s", "Content-Type": "application/json"}
    ))
    plain = run_method("webhook", {"url": "http://hooks.test/x", "method": "PUT", "headerName": "X-Token"}, data())
    assert plain.webhook == WebhookRequest(
        url="http://hooks.test/x", method="PUT", headers={"Content-Type": "application/json"}
    )


def test_unknown_methods_are_not_implemented() -> None:
    with pytest.raises(MethodNotImplemented, match="assetTrash"):
        run_method("assetTrash", {}, data())


def test_method_keys_and_trigger_compatibility() -> None:
    assert parse_method_key("immich-plugin-core#assetArchive") == ("immich-plugin-core", "assetArchive")
    assert parse_method_key("immich-plugin-core@2.0.1#assetArchive") == ("immich-plugin-core", "assetArchive")
    for bad in ("assetArchive", "#assetArchive", "core#", "core#a#b", "co re#a", "core@1@2#a"):
        assert parse_method_key(bad) is None, bad
    assert compatible(["AssetV1"], "AssetCreate") and compatible(["AssetV1"], "AssetMetadataExtraction")
    assert not compatible(["AssetPersonV1"], "AssetCreate")
