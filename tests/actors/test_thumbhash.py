"""ThumbHash encoder: size bound, and what a decoder gets back (average colour, alpha, aspect,
the coarse picture)."""

from __future__ import annotations

import numpy as np
import pytest

from immich_trio.actors.thumbnailer.thumbhash import (
    rgba_to_thumbhash,
    thumbhash_to_approx_aspect_ratio,
    thumbhash_to_average_rgba,
    thumbhash_to_rgba,
)

COLOUR_TOLERANCE = 3 / 63  # the average colour is quantised to 6 bits per channel


def _solid(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    return bytes(rgba) * (width * height)


def _horizontal_gradient(width: int, height: int) -> np.ndarray:
    """Red on the left to blue on the right, opaque."""
    t = np.linspace(0.0, 1.0, width)[None, :].repeat(height, axis=0)
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[..., 0] = np.rint(255 * (1 - t))
    pixels[..., 2] = np.rint(255 * t)
    pixels[..., 3] = 255
    return pixels


@pytest.mark.parametrize(
    ("width", "height", "colour"),
    [(100, 50, (200, 30, 60, 255)), (40, 100, (10, 120, 250, 255)), (9, 9, (128, 128, 128, 255))],
)
def test_solid_colour_decodes_to_that_colour(
    width: int, height: int, colour: tuple[int, int, int, int]
) -> None:
    thumbhash = rgba_to_thumbhash(width, height, _solid(width, height, colour))
    assert len(thumbhash) <= 25
    average = thumbhash_to_average_rgba(thumbhash)
    for got, want in zip(average, colour, strict=True):
        assert got == pytest.approx(want / 255, abs=COLOUR_TOLERANCE)
    # A flat image has no detail: the whole decoded picture is that colour.
    w, h, pixels = thumbhash_to_rgba(thumbhash)
    decoded = np.frombuffer(pixels, dtype=np.uint8).reshape(h, w, 4).astype(int)
    assert np.abs(decoded - np.array(colour)).max() <= 8


def test_single_pixel_keeps_its_colour() -> None:
    # Too small for the DCT to mean anything, but the average colour must survive.
    thumbhash = rgba_to_thumbhash(1, 1, bytes((128, 64, 32, 255)))
    assert thumbhash_to_average_rgba(thumbhash) == pytest.approx(
        (128 / 255, 64 / 255, 32 / 255, 1.0), abs=COLOUR_TOLERANCE
    )


@pytest.mark.parametrize(("width", "height"), [(100, 50), (50, 100), (100, 100), (100, 25)])
def test_aspect_ratio_is_remembered(width: int, height: int) -> None:
    thumbhash = rgba_to_thumbhash(width, height, _horizontal_gradient(width, height))
    assert thumbhash_to_approx_aspect_ratio(thumbhash) == pytest.approx(width / height, rel=0.3)
    w, h, _ = thumbhash_to_rgba(thumbhash)
    assert (w > h) == (width > height)
    assert max(w, h) == 32


def test_gradient_keeps_average_and_direction() -> None:
    thumbhash = rgba_to_thumbhash(100, 60, _horizontal_gradient(100, 60))
    assert len(thumbhash) <= 25
    r, g, b, a = thumbhash_to_average_rgba(thumbhash)
    assert (r, g, b, a) == pytest.approx((0.5, 0.0, 0.5, 1.0), abs=COLOUR_TOLERANCE)
    w, h, pixels = thumbhash_to_rgba(thumbhash)
    decoded = np.frombuffer(pixels, dtype=np.uint8).reshape(h, w, 4).astype(int)
    left, right = decoded[h // 2, 1], decoded[h // 2, w - 2]
    assert left[0] > left[2] + 100  # red side
    assert right[2] > right[0] + 100  # blue side


def test_transparency_is_encoded() -> None:
    pixels = _horizontal_gradient(80, 80)
    pixels[:, 40:, 3] = 0  # right half fully transparent
    thumbhash = rgba_to_thumbhash(80, 80, pixels)
    assert len(thumbhash) <= 25
    assert thumbhash[2] & 0x80  # the has-alpha flag
    assert thumbhash_to_average_rgba(thumbhash)[3] == pytest.approx(0.5, abs=1 / 15)
    w, h, decoded_bytes = thumbhash_to_rgba(thumbhash)
    decoded = np.frombuffer(decoded_bytes, dtype=np.uint8).reshape(h, w, 4).astype(int)
    assert decoded[h // 2, 1, 3] > 200
    assert decoded[h // 2, w - 2, 3] < 55


def test_length_stays_bounded_for_noise() -> None:
    rng = np.random.default_rng(1)
    for width, height in [(100, 100), (100, 7), (3, 100), (64, 48)]:
        opaque = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        opaque[..., 3] = 255
        assert len(rgba_to_thumbhash(width, height, opaque)) <= 25
        translucent = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        assert len(rgba_to_thumbhash(width, height, translucent)) <= 25


def test_deterministic_and_bytes_or_array() -> None:
    pixels = _horizontal_gradient(30, 20)
    assert rgba_to_thumbhash(30, 20, pixels) == rgba_to_thumbhash(30, 20, pixels.tobytes())


@pytest.mark.parametrize(("width", "height"), [(101, 10), (10, 101), (0, 5)])
def test_rejects_sizes_outside_100px(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="at most 100x100"):
        rgba_to_thumbhash(width, height, bytes(max(width, 1) * height * 4))


def test_rejects_wrong_buffer_length() -> None:
    with pytest.raises(ValueError, match="RGBA bytes"):
        rgba_to_thumbhash(10, 10, bytes(10))
