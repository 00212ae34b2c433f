"""Image thumbnails as a user sees them: the files on disk (format, size, orientation, colour,
transparency), the thumbhash, and clean failures on broken input."""

from __future__ import annotations

import io
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import trio
from PIL import Image, ImageCms

from immich_trio.actors.thumbnailer import (
    FullsizeOptions,
    OutputOptions,
    ThumbnailError,
    ThumbnailOptions,
    ThumbnailResult,
    generate_image_thumbnails,
    needs_fullsize,
)

DEFAULTS = ThumbnailOptions()
ASSET_FILES = [
    "formats/jpeg/el_torcal_rocks.jpeg",
    "formats/jpg/el_torcal_rocks.jpg",
    "formats/avif/8bit-sRGB.avif",
    "formats/avif/10bit-HDR-P3-nclx.avif",
    "formats/heic/IMG_2682.heic",
    "formats/motionphoto/samsung-one-ui-6.heic",
    "formats/jxl/8bit-sRGB.jxl",
    "formats/jxl/16bit-HDR-P3-nclx.jxl",
    "formats/png/density_plot.png",
    "formats/webp/denali.webp",
    "metadata/faces/portrait-orientation-6.jpg",
    "albums/text/craft-beer.jpg",
]


def _run(
    source: Path,
    out: Path,
    options: ThumbnailOptions = DEFAULTS,
    *,
    fullsize: bool = False,
) -> ThumbnailResult:
    return generate_image_thumbnails(
        source,
        preview_path=out / f"asset_preview.{options.preview.format}",
        thumbnail_path=out / f"asset_thumbnail.{options.thumbnail.format}",
        fullsize_path=out / f"asset_fullsize.{options.fullsize.format}" if fullsize else None,
        options=options,
    )


def _expected(width: int, height: int, short: int) -> tuple[int, int]:
    if min(width, height) <= short:
        return width, height
    if width <= height:
        return short, round(height * short / width)
    return round(width * short / height), short


def _save(image: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    image.save(path, fmt, **params)
    return path


def _px(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def _icc_description(image: Image.Image) -> str | None:
    icc = image.info.get("icc_profile")
    if not icc:
        return None
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()


@pytest.mark.parametrize("name", ASSET_FILES)
def test_every_test_asset_gives_jpeg_preview_and_webp_thumbnail(
    test_assets: Path, tmp_path: Path, name: str
) -> None:
    result = _run(test_assets / name, tmp_path)

    preview = Image.open(result.preview_path)
    thumbnail = Image.open(result.thumbnail_path)
    assert preview.format == "JPEG"
    assert thumbnail.format == "WEBP"
    # Immich resizes "fit outside": the *short* side becomes 1440 / 250, never enlarged.
    assert preview.size == _expected(result.width, result.height, 1440) == result.preview_size
    assert thumbnail.size == _expected(result.width, result.height, 250) == result.thumbnail_size
    assert min(preview.size) == min(1440, result.width, result.height)
    assert 0 < len(result.thumbhash) <= 25
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "asset_preview.jpeg",
        "asset_thumbnail.webp",
    ]  # no temp files left behind


def test_orientation_6_asset_is_rotated(test_assets: Path, tmp_path: Path) -> None:
    source = test_assets / "metadata/faces/portrait-orientation-6.jpg"
    stored = Image.open(source).size
    result = _run(source, tmp_path)
    # Stored 700x840 with "rotate 90 CW": displayed (and written) 840x700.
    assert (result.width, result.height) == (stored[1], stored[0])
    assert Image.open(result.preview_path).size == (stored[1], stored[0])


def test_orientation_6_landscape_sensor_gives_portrait_with_right_pixels(tmp_path: Path) -> None:
    image = Image.new("RGB", (3000, 2000), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 300, 300))  # red in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    source = _save(image, tmp_path / "rotated.jpg", "JPEG", exif=exif.tobytes(), quality=95)
    out = tmp_path / "out"
    result = _run(source, out)
    assert (result.width, result.height) == (2000, 3000)
    preview = Image.open(result.preview_path).convert("RGB")
    assert preview.size == (1440, 2160)
    # 90 degrees clockwise: the stored top-left corner is now the top-right one.
    assert _px(preview, (1430, 10))[0] > 200
    assert _px(preview, (10, 10))[2] > 200


def test_large_jpeg_shrinks_on_load_to_the_exact_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    source = _save(Image.fromarray(pixels), tmp_path / "big.jpg", "JPEG", quality=85)
    result = _run(source, tmp_path / "out")
    assert (result.width, result.height) == (4000, 3000)
    assert Image.open(result.preview_path).size == (1920, 1440)
    assert Image.open(result.thumbnail_path).size == (333, 250)


def test_transparent_png_keeps_alpha_in_webp_and_is_white_in_jpeg(tmp_path: Path) -> None:
    image = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (300, 0, 600, 400))  # right half opaque green
    source = _save(image, tmp_path / "alpha.png", "PNG")
    result = _run(source, tmp_path / "out")
    assert result.is_transparent
    preview = Image.open(result.preview_path)
    assert preview.mode == "RGB"
    assert _px(preview, (20, 200)) == pytest.approx((255, 255, 255), abs=3)
    assert _px(preview, (580, 200)) == pytest.approx((0, 128, 0), abs=6)
    thumbnail = Image.open(result.thumbnail_path)
    assert thumbnail.mode == "RGBA"
    assert _px(thumbnail, (5, 125))[3] == 0
    assert _px(thumbnail, (370, 125))[3] == 255
    assert result.thumbhash[2] & 0x80  # thumbhash knows about the alpha


def test_opaque_alpha_channel_is_not_transparent(tmp_path: Path) -> None:
    source = _save(Image.new("RGBA", (300, 300), (10, 20, 30, 255)), tmp_path / "a.png", "PNG")
    result = _run(source, tmp_path / "out")
    assert not result.is_transparent
    assert Image.open(result.thumbnail_path).mode == "RGB"


@pytest.mark.parametrize(
    ("mode", "fmt", "suffix"),
    [
        ("P", "GIF", "gif"),
        ("RGB", "TIFF", "tif"),
        ("CMYK", "JPEG", "jpg"),
        ("CMYK", "TIFF", "tiff"),
        ("L", "PNG", "png"),
        ("I;16", "PNG", "png"),
        ("LA", "PNG", "png"),
        ("RGB", "BMP", "bmp"),
        ("RGBA", "WEBP", "webp"),
    ],
)
def test_other_formats_and_pixel_modes(tmp_path: Path, mode: str, fmt: str, suffix: str) -> None:
    base = Image.new("RGB", (500, 300), (200, 100, 50))
    image = base.convert(mode) if mode != "I;16" else Image.new("I;16", (500, 300), 40000)
    source = _save(image, tmp_path / f"in.{suffix}", fmt)
    result = _run(source, tmp_path / "out")
    assert (result.width, result.height) == (500, 300)
    assert Image.open(result.preview_path).format == "JPEG"
    assert Image.open(result.thumbnail_path).size == (417, 250)


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (300, 300), c) for c in ((255, 0, 0), (0, 0, 255))]
    source = tmp_path / "anim.gif"
    frames[0].save(source, "GIF", save_all=True, append_images=frames[1:], duration=100)
    result = _run(source, tmp_path / "out")
    red, _, blue = _px(Image.open(result.preview_path), (150, 150))
    assert red > 200 and blue < 50


def test_wide_gamut_source_gets_p3_or_srgb_as_configured(test_assets: Path, tmp_path: Path) -> None:
    source = test_assets / "formats/heic/IMG_2682.heic"  # Display P3 profile
    p3 = _run(source, tmp_path / "p3")
    assert p3.colorspace == "p3"
    assert _icc_description(Image.open(p3.preview_path)) == "Display P3"
    assert _icc_description(Image.open(p3.thumbnail_path)) == "Display P3"

    srgb = _run(source, tmp_path / "srgb", ThumbnailOptions(colorspace="srgb"))
    assert srgb.colorspace == "srgb"
    assert _icc_description(Image.open(srgb.preview_path)) is None


def test_srgb_source_stays_srgb_without_profile(test_assets: Path, tmp_path: Path) -> None:
    result = _run(test_assets / "formats/jxl/8bit-sRGB.jxl", tmp_path)
    assert result.colorspace == "srgb"
    assert _icc_description(Image.open(result.preview_path)) is None


def test_adobe_rgb_like_profile_is_converted(tmp_path: Path) -> None:
    """A pure P3 red converted to sRGB is clipped red; kept as P3 it is tagged, not altered."""
    from immich_trio.actors.thumbnailer.colour import display_p3_icc

    image = Image.new("RGB", (400, 400), (255, 0, 0))
    source = _save(image, tmp_path / "p3.jpg", "JPEG", icc_profile=display_p3_icc(), quality=95)
    srgb = _run(source, tmp_path / "s", ThumbnailOptions(colorspace="srgb"))
    assert _px(Image.open(srgb.preview_path), (200, 200))[0] > 240
    p3 = _run(source, tmp_path / "p", ThumbnailOptions(colorspace="p3"))
    assert _px(Image.open(p3.preview_path), (200, 200)) == pytest.approx((255, 0, 0), abs=6)


def test_hdr_avif_is_tone_mapped_not_washed_out(test_assets: Path, tmp_path: Path) -> None:
    result = _run(test_assets / "formats/avif/10bit-HDR-P3-nclx.avif", tmp_path)
    assert result.colorspace == "p3"
    pixels = np.asarray(Image.open(result.preview_path).convert("RGB")).astype(float)
    # PQ code values shown as sRGB would be dark and flat; tone-mapped SDR uses the range.
    assert 60 < pixels.mean() < 200
    assert pixels.std() > 30


def test_output_formats_quality_and_progressive_follow_options(tmp_path: Path) -> None:
    source = _save(Image.new("RGB", (2000, 1000), (90, 60, 30)), tmp_path / "in.jpg", "JPEG")
    options = ThumbnailOptions(
        preview=OutputOptions(format="webp", size=720, quality=70),
        thumbnail=OutputOptions(format="jpeg", size=100, quality=60, progressive=True),
    )
    result = _run(source, tmp_path / "out", options)
    preview = Image.open(result.preview_path)
    thumbnail = Image.open(result.thumbnail_path)
    assert (preview.format, preview.size) == ("WEBP", (1440, 720))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (200, 100))
    assert thumbnail.info.get("progressive") or thumbnail.info.get("progression")


def test_fullsize_is_converted_at_full_resolution(test_assets: Path, tmp_path: Path) -> None:
    source = test_assets / "formats/heic/IMG_2682.heic"
    options = ThumbnailOptions(fullsize=FullsizeOptions(enabled=True))
    assert needs_fullsize(source, options)
    assert not needs_fullsize(test_assets / "formats/jpg/el_torcal_rocks.jpg", options)
    result = _run(source, tmp_path, options, fullsize=True)
    assert result.fullsize_path is not None
    fullsize = Image.open(result.fullsize_path)
    assert (fullsize.format, fullsize.size) == ("JPEG", (4032, 3024))
    assert Image.open(result.preview_path).size == (1920, 1440)


def test_options_from_system_config(reference_dir: Path) -> None:
    import json

    config = json.loads((reference_dir / "system-config-defaults.json").read_text())
    assert ThumbnailOptions.from_config(config["image"]) == ThumbnailOptions()
    custom = ThumbnailOptions.from_config(
        {"preview": {"size": 1080, "format": "webp"}, "colorspace": "srgb", "extractEmbedded": True}
    )
    assert custom.preview == OutputOptions(format="webp", size=1080)
    assert (custom.colorspace, custom.extract_embedded) == ("srgb", True)
    with pytest.raises(ValueError, match="unsupported image format"):
        ThumbnailOptions.from_config({"thumbnail": {"format": "png"}})


# -- RAW --------------------------------------------------------------------------------------


def _ifd(entries: list[tuple[int, int, list[int] | str]], offset: int, next_ifd: int) -> bytes:
    """One little-endian TIFF IFD at ``offset``; values that do not fit go right after it."""
    sizes = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 10: ("ii", 8)}
    head = struct.pack("<H", len(entries))
    extra_at = offset + 2 + 12 * len(entries) + 4
    body, extra = b"", b""
    for tag, kind, values in sorted(entries):
        if kind == 2:
            assert isinstance(values, str)
            raw, count = values.encode() + b"\0", len(values) + 1
        elif kind in (5, 10):
            assert isinstance(values, list)
            raw = b"".join(struct.pack("<" + sizes[kind][0], v, 10000) for v in values)
            count = len(values)
        else:
            assert isinstance(values, list)
            raw, count = struct.pack(f"<{len(values)}{sizes[kind][0]}", *values), len(values)
        if len(raw) <= 4:
            body += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\0")
        else:
            body += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += raw + b"\0" * (len(raw) % 2)
    return head + body + struct.pack("<I", next_ifd) + extra


def build_dng(
    width: int, height: int, *, orientation: int = 1, preview: Image.Image | None = None
) -> bytes:
    """A minimal DNG: 12-bit RGGB mosaic of a blue-to-red gradient, optionally followed by a
    JPEG preview IFD (how cameras embed their previews)."""
    t = np.linspace(0.05, 0.9, width)[None, :].repeat(height, 0)
    rgb = np.stack([t, np.full_like(t, 0.4), 1 - t], axis=-1)
    cfa = np.empty((height, width))
    cfa[0::2, 0::2] = rgb[0::2, 0::2, 0]
    cfa[0::2, 1::2] = rgb[0::2, 1::2, 1]
    cfa[1::2, 0::2] = rgb[1::2, 0::2, 1]
    cfa[1::2, 1::2] = rgb[1::2, 1::2, 2]
    data = (cfa * 4095).astype("<u2").tobytes()
    jpeg = b""
    if preview is not None:
        buffer = io.BytesIO()
        preview.save(buffer, "JPEG", quality=90)
        jpeg = buffer.getvalue()
    xyz_to_srgb = [32406, -15372, -4986, -9689, 18758, 415, 557, -2040, 10570]
    ifd0_at = 8 + len(data) + len(jpeg) + (len(jpeg) % 2)
    raw_entries: list[tuple[int, int, list[int] | str]] = [
        (254, 4, [0]), (256, 4, [width]), (257, 4, [height]), (258, 3, [16]), (259, 3, [1]),
        (262, 3, [32803]), (271, 2, "Test"), (272, 2, "Synthetic"), (273, 4, [8]),
        (274, 3, [orientation]), (277, 3, [1]), (278, 4, [height]), (279, 4, [len(data)]),
        (284, 3, [1]), (33421, 3, [2, 2]), (33422, 1, [0, 1, 1, 2]), (50706, 1, [1, 4, 0, 0]),
        (50708, 2, "Test Synthetic"), (50717, 4, [4095]), (50721, 10, xyz_to_srgb),
        (50728, 5, [10000, 10000, 10000]), (50778, 3, [21]),
    ]  # fmt: skip
    ifd1_at = ifd0_at + len(_ifd(raw_entries, ifd0_at, 0)) if jpeg else 0
    out = b"II*\0" + struct.pack("<I", ifd0_at) + data + jpeg
    out = out.ljust(ifd0_at, b"\0") + _ifd(raw_entries, ifd0_at, ifd1_at)
    if preview is not None:
        pw, ph = preview.size
        preview_entries: list[tuple[int, int, list[int] | str]] = [
            (254, 4, [1]), (256, 4, [pw]), (257, 4, [ph]), (258, 3, [8, 8, 8]), (259, 3, [7]),
            (262, 3, [6]), (273, 4, [8 + len(data)]), (277, 3, [3]), (278, 4, [ph]),
            (279, 4, [len(jpeg)]),
        ]  # fmt: skip
        out += _ifd(preview_entries, ifd1_at, 0)
    return out


def test_raw_is_demosaiced_and_oriented(tmp_path: Path) -> None:
    source = tmp_path / "photo.dng"
    source.write_bytes(build_dng(640, 480, orientation=6))
    result = _run(source, tmp_path / "out", ThumbnailOptions(extract_embedded=True))
    assert not result.used_embedded_preview  # there is none
    assert (result.width, result.height) == (480, 640)
    preview = Image.open(result.preview_path).convert("RGB")
    assert preview.size == (480, 640)
    # Rotated 90 CW: the blue (left) edge of the sensor is now at the top.
    top, bottom = _px(preview, (240, 5)), _px(preview, (240, 634))
    assert top[2] > top[0] + 80 and bottom[0] > bottom[2] + 80


def test_raw_half_size_demosaic_when_it_still_covers_the_target(tmp_path: Path) -> None:
    source = tmp_path / "photo.dng"
    source.write_bytes(build_dng(640, 480))
    options = ThumbnailOptions(preview=OutputOptions(format="jpeg", size=200))
    result = _run(source, tmp_path / "out", options)
    assert (result.width, result.height) == (640, 480)
    assert Image.open(result.preview_path).size == (267, 200)


def test_raw_embedded_preview_used_when_allowed_and_large_enough(tmp_path: Path) -> None:
    source = tmp_path / "photo.dng"
    source.write_bytes(
        build_dng(640, 480, orientation=6, preview=Image.new("RGB", (800, 600), (20, 40, 220)))
    )
    options = ThumbnailOptions(
        extract_embedded=True, preview=OutputOptions(format="jpeg", size=300)
    )
    result = _run(source, tmp_path / "out", options, fullsize=True)
    assert result.used_embedded_preview
    assert (result.width, result.height) == (600, 800)
    preview = Image.open(result.preview_path).convert("RGB")
    assert preview.size == (300, 400)
    assert _px(preview, (150, 200)) == pytest.approx((20, 40, 220), abs=8)
    # The embedded JPEG is the fullsize file, as-is plus its orientation in EXIF.
    assert result.fullsize_path is not None
    fullsize = Image.open(result.fullsize_path)
    assert (fullsize.size, fullsize.getexif().get(0x0112)) == ((800, 600), 6)

    # Smaller than the preview size: ignored, the sensor data is decoded instead.
    too_small = _run(source, tmp_path / "out2", ThumbnailOptions(extract_embedded=True))
    assert not too_small.used_embedded_preview
    # extractEmbedded off: ignored too.
    off = _run(source, tmp_path / "out3", ThumbnailOptions(preview=options.preview))
    assert not off.used_embedded_preview


# -- failures ---------------------------------------------------------------------------------


def _broken_inputs(test_assets: Path, tmp_path: Path) -> list[Path]:
    jpeg = (test_assets / "albums/text/craft-beer.jpg").read_bytes()
    heic = (test_assets / "formats/heic/IMG_2682.heic").read_bytes()
    files = {
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "truncated.heic": heic[: len(heic) // 2],
        "noise.jpg": np.random.default_rng(2).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
        "noise.dng": np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
        "empty.png": b"",
        "header-only.png": b"\x89PNG\r\n\x1a\n",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    return paths


def test_broken_input_raises_thumbnail_error_and_writes_nothing(
    test_assets: Path, tmp_path: Path
) -> None:
    for source in _broken_inputs(test_assets, tmp_path):
        out = tmp_path / f"out-{source.name}"
        with pytest.raises(ThumbnailError) as info:
            _run(source, out, fullsize=True)
        assert source.name in info.value.reason
        assert not out.exists() or not list(out.iterdir()), source.name


def test_missing_file_is_a_thumbnail_error(tmp_path: Path) -> None:
    with pytest.raises(ThumbnailError, match=r"nope\.jpg"):
        _run(tmp_path / "nope.jpg", tmp_path / "out")


def test_failed_write_leaves_no_outputs(test_assets: Path, tmp_path: Path) -> None:
    source = test_assets / "formats/jpg/el_torcal_rocks.jpg"
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocker").write_text("a file where a folder should be")
    with pytest.raises(ThumbnailError, match="cannot write"):
        generate_image_thumbnails(
            source,
            preview_path=out / "asset_preview.jpeg",
            thumbnail_path=out / "blocker" / "asset_thumbnail.webp",
            fullsize_path=None,
            options=DEFAULTS,
        )
    assert sorted(p.name for p in out.iterdir()) == ["blocker"]


def test_replaces_existing_files_atomically(test_assets: Path, tmp_path: Path) -> None:
    (tmp_path / "asset_preview.jpeg").write_bytes(b"old")
    result = _run(test_assets / "formats/webp/denali.webp", tmp_path)
    assert Image.open(result.preview_path).format == "JPEG"
    assert oct(os.stat(result.preview_path).st_mode & 0o777) == oct(0o644)


# -- threads ----------------------------------------------------------------------------------


def test_concurrent_calls_give_the_same_results(test_assets: Path, tmp_path: Path) -> None:
    names = ASSET_FILES[:3] + ASSET_FILES[8:11]
    sequential = [_run(test_assets / n, tmp_path / f"s{i}").thumbhash for i, n in enumerate(names)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(_run, test_assets / n, tmp_path / f"c{i}") for i, n in enumerate(names * 2)
        ]
        parallel = [f.result().thumbhash for f in futures]
    assert parallel == sequential * 2


async def test_runs_in_trio_worker_threads(test_assets: Path, tmp_path: Path) -> None:
    limiter = trio.CapacityLimiter(2)
    results: list[ThumbnailResult] = []

    async def one(i: int, name: str) -> None:
        result = await trio.to_thread.run_sync(
            _run, test_assets / name, tmp_path / str(i), limiter=limiter
        )
        results.append(result)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for i, name in enumerate(ASSET_FILES[:4] + ASSET_FILES[8:11]):
                nursery.start_soon(one, i, name)
    assert len(results) == 7
