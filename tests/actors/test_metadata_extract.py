"""Metadata extraction rules: real exiftool on the test assets, then the pure mapping."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.metadata.dates import default_timezone_lookup
from immich_trio.actors.metadata.exiftool import open_exiftool
from immich_trio.actors.metadata.extract import (
    ExtractedMetadata,
    FileFacts,
    VideoFacts,
    extract_metadata,
)

needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool not installed (apt-get install -y libimage-exiftool-perl)",
)
CAP = 30

MTIME = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
UPLOADED = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
FACTS = FileFacts(size=1234, mtime=MTIME, file_created_at=UPLOADED, file_modified_at=MTIME)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def fixed_zone(name: str) -> Any:
    return lambda latitude, longitude: name


async def read(
    assets: Path, name: str, sidecar: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    with trio.fail_after(CAP):
        async with open_exiftool() as et:
            tags = await et.read_tags(assets / name)
            side = await et.read_sidecar(assets / sidecar) if sidecar else None
    return tags, side


async def extract(
    assets: Path, name: str, sidecar: str | None = None, **kwargs: Any
) -> ExtractedMetadata:
    tags, side = await read(assets, name, sidecar)
    return extract_metadata(tags, FACTS, original_path=name, sidecar_tags=side, **kwargs)


# --- real files -------------------------------------------------------------------------


@needs_exiftool
async def test_camera_fields_rating_description(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/rating/mongolels.jpg")
    e = m.exif
    assert (e.make, e.model) == ("Canon", "Canon EOS 500D")
    assert (e.exif_image_width, e.exif_image_height) == (950, 634)
    assert (e.f_number, e.focal_length, e.iso, e.exposure_time) == (11.0, 40, 200, "1/250")
    assert e.rating == 3
    assert e.description == "Mongol Els"
    assert e.orientation == "1"
    assert e.colorspace == "Uncalibrated"
    assert e.bits_per_sample == 8
    assert e.file_size_in_byte == 1234  # from stat, not from the tags
    assert e.modify_date == m.file_modified_at == utc(2026, 1, 2, 3, 4, 5, 678000)
    # No zone anywhere: the wall clock is taken as UTC.
    assert e.time_zone is None
    assert m.file_created_at == e.date_time_original == utc(2009, 8, 29, 13, 18, 8, 170000)
    assert m.local_date_time == utc(2009, 8, 29, 13, 18, 8, 170000)
    assert (m.width, m.height) == (950, 634)
    assert e.city is None and e.country is None


@needs_exiftool
async def test_gps_position_keywords(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/gps-position/thompson-springs.jpg")
    assert m.exif.latitude == pytest.approx(39.115)
    assert m.exif.longitude == pytest.approx(-108.400968333)
    assert m.exif.tags == (
        "carol m. highsmith",
        "america",
        "utah",
        "utah winter scenes",
        "thompson springs",
    )
    assert m.exif.description.startswith("Early winter scene")
    assert m.exif.description.endswith("state of Utah.")  # trimmed
    assert m.exif.lens_model == "Canon EF 24-105mm f/4L IS II USM"
    assert m.exif.profile_description == "sRGB v4 ICC preference perceptual intent beta"
    # Without a GPS zone lookup, the offset written in IPTC's date/time gives the zone.
    assert m.exif.time_zone == "UTC-4"
    assert m.local_date_time == utc(2022, 1, 10, 15, 15, 44, 310000)
    assert m.file_created_at == utc(2022, 1, 10, 19, 15, 44, 310000)


@needs_exiftool
async def test_zone_from_gps_position_wins_over_date_offsets(test_assets: Path) -> None:
    m = await extract(
        test_assets,
        "metadata/gps-position/thompson-springs.jpg",
        timezone_lookup=fixed_zone("America/Denver"),
    )
    assert m.exif.time_zone == "America/Denver"
    assert m.local_date_time == utc(2022, 1, 10, 15, 15, 44, 310000)
    assert m.file_created_at == utc(2022, 1, 10, 22, 15, 44, 310000)  # MST, UTC-7


@needs_exiftool
async def test_zoneless_date_with_gps_zone_keeps_local_time(test_assets: Path) -> None:
    m = await extract(
        test_assets,
        "metadata/dates/datetimeoriginal-gps.jpg",
        timezone_lookup=fixed_zone("America/Denver"),
    )
    assert (m.exif.latitude, m.exif.longitude) == (39, -108)
    assert m.exif.time_zone == "America/Denver"
    assert m.local_date_time == utc(2025, 12, 1, 11, 30)
    assert m.file_created_at == utc(2025, 12, 1, 18, 30)


@needs_exiftool
async def test_real_gps_zone_lookup(test_assets: Path) -> None:
    lookup = default_timezone_lookup()
    if lookup is None:
        pytest.skip("timezonefinder is not installed")
    m = await extract(
        test_assets, "metadata/dates/datetimeoriginal-gps.jpg", timezone_lookup=lookup
    )
    assert m.exif.time_zone == "America/Denver"


@needs_exiftool
async def test_gps_datetime_is_utc(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/dates/gps-datetime.jpg")
    assert m.exif.time_zone == "UTC+0"
    assert m.file_created_at == m.local_date_time == utc(2023, 11, 15, 12, 30)
    m = await extract(
        test_assets,
        "metadata/dates/gps-datetime.jpg",
        timezone_lookup=fixed_zone("America/Los_Angeles"),
    )
    assert m.exif.time_zone == "America/Los_Angeles"
    assert m.file_created_at == utc(2023, 11, 15, 12, 30)
    assert m.local_date_time == utc(2023, 11, 15, 4, 30)


@needs_exiftool
async def test_date_priority(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/dates/date-priority-test.jpg")
    # DateTimeOriginal beats CreationDate, CreateDate and GPSDateTime; GPS and local
    # stamps are months apart, so no offset is inferred.
    assert m.file_created_at == utc(2023, 2, 2, 2, 0)
    assert m.exif.time_zone is None


@needs_exiftool
async def test_offset_in_date_and_subseconds(test_assets: Path) -> None:
    m = await extract(test_assets, "albums/nature/cyclamen_persicum.jpg")
    assert m.exif.time_zone == "UTC+9"
    assert m.local_date_time == utc(2007, 12, 6, 14, 33, 18)
    assert m.file_created_at == utc(2007, 12, 6, 5, 33, 18)
    m = await extract(test_assets, "metadata/gps-position/empty_gps.jpg")
    assert m.file_created_at == utc(2025, 6, 1, 16, 59, 26, 23000)
    assert (m.exif.latitude, m.exif.longitude) == (None, None)  # empty GPS tags


@needs_exiftool
async def test_no_date_uses_earliest_file_date(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/dates/time-created.jpg")  # a time, no date
    assert m.file_created_at == m.local_date_time == UPLOADED
    assert m.exif.date_time_original == UPLOADED
    assert m.exif.time_zone is None
    assert m.file_modified_at == utc(2026, 1, 2, 3, 4, 5, 678000)


@needs_exiftool
async def test_orientation_6_swaps_dimensions(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/faces/portrait-orientation-6.jpg")
    assert m.exif.orientation == "6"
    assert (m.exif.exif_image_width, m.exif.exif_image_height) == (700, 840)
    assert (m.width, m.height) == (840, 700)
    assert m.exif.tags == ("People/Marie Curie", "People/Pierre Curie")


@needs_exiftool
async def test_heic_uses_rotation_not_orientation(test_assets: Path) -> None:
    m = await extract(test_assets, "formats/motionphoto/samsung-one-ui-6.heic")
    assert m.exif.orientation == "6"  # Rotation 270
    assert (m.width, m.height) == (3000, 4000)
    assert (m.exif.make, m.exif.model) == ("samsung", "SM-S906U")
    assert m.exif.time_zone == "UTC-8"  # OffsetTimeOriginal
    assert m.file_created_at == utc(2024, 1, 13, 5, 38, 53, 853000)
    assert m.local_date_time == utc(2024, 1, 12, 21, 38, 53, 853000)
    assert m.duration_ms is None
    m = await extract(test_assets, "formats/heic/IMG_2682.heic")
    # Local DateTimeOriginal vs GPS (UTC) time: 5 h behind.
    assert m.exif.time_zone == "UTC-5"
    assert m.exif.lens_model == "iPhone 7 back camera 3.99mm f/1.8"
    assert m.exif.profile_description == "Display P3"


@needs_exiftool
async def test_picasa_keywords_and_description(test_assets: Path) -> None:
    m = await extract(test_assets, "metadata/tags/picasa.jpg")
    assert m.exif.tags == ("Frost", "Yard")
    assert m.exif.description == "Image-Description"


@needs_exiftool
@pytest.mark.parametrize("year", [2000, 2010, 2020])
async def test_sidecar_date_overrides_file(test_assets: Path, year: int) -> None:
    m = await extract(
        test_assets, "formats/jpg/el_torcal_rocks.jpg", f"metadata/xmp/dates/{year}.xmp"
    )
    assert m.file_created_at == utc(year, 9, 27, 12, 35, 33)
    assert m.local_date_time == utc(year, 9, 27, 14, 35, 33)
    assert m.exif.time_zone == "UTC+2"
    assert m.exif.make == "SONY"  # the rest still comes from the file


@needs_exiftool
async def test_sidecar_tags_override_file(test_assets: Path) -> None:
    m = await extract(
        test_assets,
        "formats/jpg/el_torcal_rocks.jpg",
        "problems/xmp/iso-value-array/iso-value-array.xmp",
    )
    assert (m.exif.make, m.exif.model) == ("Canon", "Canon PowerShot SX120 IS")
    assert m.exif.iso == 160
    assert m.exif.exposure_time == "1/1250"
    assert m.exif.latitude == pytest.approx(40.234644)
    assert m.exif.longitude == pytest.approx(-76.2871415)
    assert m.file_created_at == utc(2009, 11, 28, 13, 42, 39)
    assert m.exif.file_size_in_byte == 1234


# --- pure rules -------------------------------------------------------------------------


def run(tags: Mapping[str, Any], **kwargs: Any) -> ExtractedMetadata:
    return extract_metadata(tags, FACTS, original_path=kwargs.pop("path", "x.jpg"), **kwargs)


def test_gps_validity() -> None:
    assert run({"GPSLatitude": 0, "GPSLongitude": 0}).exif.latitude is None
    assert run({"GPSLatitude": 91.0, "GPSLongitude": 10}).exif.latitude is None
    assert run({"GPSLatitude": "12", "GPSLongitude": 10}).exif.latitude is None
    e = run({"GPSLatitude": 0, "GPSLongitude": 10.5}).exif
    assert (e.latitude, e.longitude) == (0, 10.5)


def test_rating_range() -> None:
    assert run({"Rating": 0}).exif.rating is None
    assert run({"Rating": 6}).exif.rating is None
    assert run({"Rating": -1}).exif.rating is None
    assert run({"Rating": 5}).exif.rating == 5


def test_numbers() -> None:
    e = run({"ISO": [100, 0], "FNumber": "f/2", "FocalLength": float("nan")}).exif
    assert (e.iso, e.f_number, e.focal_length) == (100, None, None)
    assert run({"ISO": 2**31}).exif.iso is None
    assert run({"ExposureTime": 2}).exif.exposure_time == "2"


def test_keyword_sources() -> None:
    hs = {"HierarchicalSubject": ["People|Alice", "a/b|c"], "Keywords": ["x"]}
    assert run(hs).exif.tags == ("People/Alice", "a|b/c")
    assert run({"TagsList": ["A/B"], **hs}).exif.tags == ("A/B",)
    assert run({"Keywords": "single"}).exif.tags == ("single",)
    assert run({"Keywords": 2024}).exif.tags == ("2024",)
    assert run({}).exif.tags is None


def test_lens_make_model_fallbacks() -> None:
    assert run({"LensID": "----", "LensModel": "x"}).exif.lens_model is None
    assert run({"LensType": "Unknown (123)"}).exif.lens_model is None
    assert run({"LensModel": " EF 50mm "}).exif.lens_model == "EF 50mm"
    e = run({"AndroidMake": "Google", "AndroidModel": "Pixel"}).exif
    assert (e.make, e.model) == ("Google", "Pixel")


def test_description_bits_projection_ids() -> None:
    e = run(
        {
            "ImageDescription": "",
            "Description": "  hello ",
            "BitsPerSample": "16 16 16",
            "ProjectionType": "equirectangular",
            "ContentIdentifier": "CID",
            "BurstUUID": "B",
        }
    ).exif
    assert e.description == "hello"
    assert e.bits_per_sample == 16
    assert run({"BitsPerSample": 30}).exif.bits_per_sample == 10
    assert run({"ImagePixelDepth": 24}).exif.bits_per_sample == 8
    assert e.projection_type == "EQUIRECTANGULAR"
    assert (e.live_photo_cid, e.auto_stack_id) == ("CID", "B")
    assert run({}).exif.description == ""


def test_duration_rules() -> None:
    assert run({"Duration": 1.5}).duration_ms is None  # still image
    assert run({"Duration": 1.5}, path="a.gif").duration_ms == 1500
    video = VideoFacts(width=1920, height=1080, rotation=90, duration_seconds=3.2, fps=30.0)
    m = run({"Duration": 9.0, "VideoFrameRate": 25}, path="v.mp4", is_video=True, video=video)
    assert m.duration_ms == 3200
    assert m.exif.fps == 30.0
    assert m.exif.orientation == "8"
    assert (m.width, m.height) == (1080, 1920)
    sidecar_only = run({}, path="a.gif", sidecar_tags={"Duration": 4})
    assert sidecar_only.duration_ms is None


def test_video_dates_without_zone_are_utc() -> None:
    tags = {"CreateDate": "2024:07:01 10:00:00", "GPSLatitude": 48.85, "GPSLongitude": 2.35}
    m = run(tags, path="v.mov", is_video=True, timezone_lookup=fixed_zone("Europe/Paris"))
    assert m.file_created_at == utc(2024, 7, 1, 10, 0)
    assert m.local_date_time == utc(2024, 7, 1, 12, 0)
    m = run(tags, path="p.jpg", timezone_lookup=fixed_zone("Europe/Paris"))
    assert m.file_created_at == utc(2024, 7, 1, 8, 0)
    assert m.local_date_time == utc(2024, 7, 1, 10, 0)


def test_explicit_offset_tag_and_zero_offset() -> None:
    m = run({"DateTimeOriginal": "2024:07:01 10:00:00", "OffsetTimeOriginal": "+05:30"})
    assert m.exif.time_zone == "UTC+5:30"
    assert m.file_created_at == utc(2024, 7, 1, 4, 30)
    m = run({"DateTimeOriginal": "2024:07:01 10:00:00+00:00"})
    assert m.exif.time_zone == "UTC+0"
    assert m.file_created_at == utc(2024, 7, 1, 10, 0)


def test_invalid_dates_are_skipped() -> None:
    m = run({"DateTimeOriginal": "0000:00:00 00:00:00", "CreateDate": "2020:02:30 10:00:00"})
    assert m.file_created_at == UPLOADED
    m = run({"DateTimeOriginal": "junk", "CreateDate": "2021:03:04 05:06:07"})
    assert m.file_created_at == utc(2021, 3, 4, 5, 6, 7)


def test_sidecar_without_date_keeps_file_zone() -> None:
    file_tags = {"DateTimeOriginal": "2024:07:01 10:00:00", "OffsetTimeOriginal": "-03:00"}
    m = run(file_tags, sidecar_tags={"Rating": 4, "Description": "from xmp"})
    assert m.exif.time_zone == "UTC-3"
    assert m.file_created_at == utc(2024, 7, 1, 13, 0)
    assert (m.exif.rating, m.exif.description) == (4, "from xmp")
    # A sidecar date drops the file's dates and offset tags.
    m = run(file_tags, sidecar_tags={"DateTimeOriginal": "2001:01:01 00:00:00"})
    assert m.exif.time_zone is None
    assert m.file_created_at == utc(2001, 1, 1)


def test_columns_skip_locked_properties() -> None:
    columns = run({"Rating": 2, "Description": "d"}).exif.columns(
        locked=frozenset({"rating", "description"})
    )
    assert "rating" not in columns and "description" not in columns
    assert columns["fileSizeInByte"] == 1234
    assert "lockedProperties" not in columns
