"""Where a motion photo's video is, from its tags (Immich's applyMotionPhotos rules)."""

from __future__ import annotations

from typing import Any

import pytest

from immich_trio.actors.metadata.motion_photo import (
    MotionLocation,
    is_motion_photo,
    locate,
    motion_asset_id,
)


def directory(length: int, padding: int = 0) -> list[dict[str, Any]]:
    return [
        {"Item": {"Semantic": "Primary", "Mime": "image/jpeg", "Length": 0, "Padding": 8}},
        {"Item": {"Semantic": "MotionPhoto", "Mime": "video/mp4", "Length": length, "Padding": padding}},
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # Google MicroVideo: the offset counts from the end.
        ({"MicroVideo": 1, "MicroVideoOffset": 4000}, MotionLocation(length=4000)),
        # Google MotionPhoto: the MotionPhoto item's length and padding (exiftool 12 and 13 names).
        ({"MotionPhoto": 1, "Directory": directory(5000, 16)}, MotionLocation(length=5000, padding=16)),
        ({"MotionPhoto": 1, "ContainerDirectory": directory(5000)}, MotionLocation(length=5000)),
        # MicroVideoOffset wins over the directory's length; the padding stays.
        (
            {"MotionPhoto": 1, "MicroVideo": 1, "MicroVideoOffset": 10, "Directory": directory(5000, 4)},
            MotionLocation(length=10, padding=4),
        ),
        # Samsung: HEIC's MotionPhotoVideo before the trailer's EmbeddedVideoFile.
        (
            {"MotionPhoto": 1, "MotionPhotoVideo": "(Binary data 9 bytes)", "EmbeddedVideoType": "MotionPhoto_Data",
             "EmbeddedVideoFile": "(Binary data 12 bytes)", "Directory": directory(9)},
            MotionLocation(tag="MotionPhotoVideo"),
        ),
        (
            {"MotionPhoto": 1, "EmbeddedVideoType": "MotionPhoto_Data", "EmbeddedVideoFile": "(Binary data 9 bytes)"},
            MotionLocation(tag="EmbeddedVideoFile"),
        ),
        # Nothing to extract.
        ({"MotionPhoto": 1, "EmbeddedVideoType": "Other", "EmbeddedVideoFile": "(Binary data 9 bytes)"}, None),
        ({"MotionPhoto": 1, "Directory": directory(0)}, None),
        ({"MicroVideo": 1, "MicroVideoOffset": "4000"}, None),  # not a number: as Immich, ignored
        ({"MicroVideo": 0, "MicroVideoOffset": 4000}, None),
        ({"Directory": directory(5000)}, None),  # a directory without MotionPhoto is not read
    ],
)
def test_locate(tags: dict[str, Any], expected: MotionLocation | None) -> None:
    assert locate(tags) == expected


def test_is_motion_photo() -> None:
    assert is_motion_photo({"MotionPhoto": 1}) and is_motion_photo({"MicroVideo": "1"})
    assert not is_motion_photo({"MotionPhoto": 0}) and not is_motion_photo({"Make": "Google"})


def test_motion_asset_id_is_stable_and_a_v4_uuid() -> None:
    first = motion_asset_id("1d5e5f4e-0000-4000-8000-000000000001", b"\x01" * 20)
    assert first == motion_asset_id("1d5e5f4e-0000-4000-8000-000000000001", b"\x01" * 20)
    assert first != motion_asset_id("1d5e5f4e-0000-4000-8000-000000000001", b"\x02" * 20)
    assert first.version == 4
