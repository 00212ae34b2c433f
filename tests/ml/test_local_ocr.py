"""In-process OCR on a real PP-OCR model (shipped by the ``rapidocr`` wheel) in Immich's layout:
printed words read back with their boxes, the pieces (CTC decoding, search tokens, sizing), and
models that cannot be had."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import trio
import trio.testing
from ocr_models import MODEL, WORDS, drawn_box, install_ocr_model, text_image
from PIL import Image

from immich_trio.ml import local
from immich_trio.ml.layout import ModelError
from immich_trio.ml.ocr.detection import preprocess, scaled_size
from immich_trio.ml.ocr.local import OCR_TASK, LocalOcr
from immich_trio.ml.ocr.models import OcrPaths
from immich_trio.ml.ocr.reader import ImageError, OcrOptions, load_reader
from immich_trio.ml.ocr.recognition import ctc_decode
from immich_trio.sql.ocr import search_tokens

LIMIT = 60


def _model_files(root: Path) -> list[Path]:
    return list(root.rglob("*.onnx*"))


def _corners(box: tuple[float, ...]) -> tuple[float, float, float, float]:
    xs, ys = box[0::2], box[1::2]
    return min(xs), min(ys), max(xs), max(ys)


async def test_printed_words_are_read_where_they_were_drawn(tmp_path: Path) -> None:
    install_ocr_model(tmp_path)
    image = tmp_path / "preview.jpeg"
    image.write_bytes(text_image(fmt="JPEG"))
    ocr = LocalOcr(tmp_path, download=lambda paths, name: None)
    with trio.fail_after(LIMIT):
        result = await ocr.read_file(MODEL, image, OcrOptions())
    assert result.text == tuple(text for text, _ in WORDS)
    assert all(0.8 < s <= 1 for s in result.text_score) and all(0.5 <= s <= 1 for s in result.box_score)
    for i, (text, corner) in enumerate(WORDS):
        box = result.box[8 * i : 8 * i + 8]
        left, top, right, bottom = _corners(box)
        d_left, d_top, d_right, d_bottom = drawn_box(text, corner)
        # the box holds the drawn glyphs, with DB's margin of a few pixels at most
        assert left <= d_left + 0.01 and right >= d_right - 0.01
        assert top <= d_top + 0.02 and bottom >= d_bottom - 0.02
        assert d_left - left < 0.03 and right - d_right < 0.03
        # corners clockwise from the top-left
        assert box[0] < box[2] and box[5] > box[3] and box[4] > box[6] and box[7] > box[1]
    # a higher recognition bar than any score keeps nothing
    with trio.fail_after(LIMIT):
        strict = await ocr.read_file(MODEL, image, OcrOptions(min_recognition_score=0.9999))
    assert strict.text == () and strict.box == ()
    assert ocr.statistics().loads == 1 and ocr.statistics().inferences == 2


async def test_a_blank_or_tiny_image_has_no_text(tmp_path: Path) -> None:
    install_ocr_model(tmp_path)
    blank, tiny = tmp_path / "blank.png", tmp_path / "tiny.png"
    blank.write_bytes(text_image(()))
    Image.new("RGB", (20, 300), "white").save(tiny)
    ocr = LocalOcr(tmp_path)
    with trio.fail_after(LIMIT):
        assert (await ocr.read_file(MODEL, blank, OcrOptions())).text == ()
        assert (await ocr.read_file(MODEL, tiny, OcrOptions())).text == ()
        not_an_image = tmp_path / "junk.jpeg"
        not_an_image.write_bytes(b"not an image")
        with pytest.raises(ImageError, match="cannot decode"):
            await ocr.read_file(MODEL, not_an_image, OcrOptions())


async def test_a_missing_model_is_fetched_once_then_fails_clearly(tmp_path: Path) -> None:
    asked: list[str] = []

    def no_network(paths: OcrPaths, name: str) -> None:
        asked.append(name)

    ocr = LocalOcr(tmp_path, download=no_network)
    image = tmp_path / "p.png"
    image.write_bytes(text_image())
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match=re.escape("'PP-OCRv5_mobile' is missing PP-OCRv5_mobile/detection/model.onnx")):
        await ocr.read_file("PP-OCRv5_mobile", image, OcrOptions())
    assert asked == ["PP-OCRv5_mobile"]


async def test_the_real_download_names_the_model_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_MODEL_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    ocr = LocalOcr(tmp_path)
    image = tmp_path / "p.png"
    image.write_bytes(text_image())
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match=re.escape("could not be downloaded from http://127.0.0.1:9")):
        await ocr.read_file("PP-OCRv5_mobile", image, OcrOptions())
    assert not _model_files(tmp_path)  # no half-written model left


async def test_a_language_model_shares_its_base_models_detection(tmp_path: Path) -> None:
    """Immich keys detection by the name after ``__``: ``EN__<model>`` reads with
    ``ocr/<model>/detection`` and its own ``ocr/EN__<model>/recognition``."""
    base = install_ocr_model(tmp_path)
    language = tmp_path / "ocr" / f"EN__{MODEL}" / "recognition"
    _copy(base / "recognition" / "model.onnx", language / "model.onnx")
    image = tmp_path / "p.png"
    image.write_bytes(text_image())
    ocr = LocalOcr(tmp_path, download=lambda paths, name: None)
    with trio.fail_after(LIMIT):
        result = await ocr.read_file(f"EN__{MODEL}", image, OcrOptions())
    assert result.text == tuple(text for text, _ in WORDS)
    paths = OcrPaths.of(tmp_path, f"EN__{MODEL}")
    assert paths.detection == base / "detection" / "model.onnx" and paths.recognition == language / "model.onnx"


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)


async def test_a_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    root = install_ocr_model(tmp_path)
    (root / "recognition" / "model.onnx").write_bytes(b"\x08\x01garbage")
    image = tmp_path / "p.png"
    image.write_bytes(text_image())
    ocr = LocalOcr(tmp_path)
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match="cannot load"):
        await ocr.read_file(MODEL, image, OcrOptions())


def test_ctc_decoding_merges_repeats_and_drops_blanks() -> None:
    charset = ["", "a", "b", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 0, 3, 2]  # a a _ a b b _ _ ' ' b
    probs = np.full((1, len(steps), 4), 0.01, dtype=np.float32)
    for t, c in enumerate(steps):
        probs[0, t, c] = 0.9 if c else 0.5
    texts, scores = ctc_decode(probs, charset)
    assert texts == ["aab b"]
    assert scores == [pytest.approx(0.9)]
    blank = np.zeros((1, 3, 4), dtype=np.float32)
    blank[0, :, 0] = 1
    assert ctc_decode(blank, charset) == ([""], [0.0])


def test_search_tokens_follow_immich() -> None:
    assert search_tokens("  Hello\tWORLD.\n42 ") == ["Hello", "WORLD.", "42"]
    assert search_tokens("東京タワー") == ["東京", "京タ", "タワ", "ワー"]
    assert search_tokens("a東b") == ["a", "東", "b"]
    assert search_tokens("") == []


def test_input_size_is_a_multiple_of_the_stride_and_never_upscaled() -> None:
    assert scaled_size(640, 360, 736) == (640, 352)
    assert scaled_size(4000, 3000, 736) == (992, 736)
    assert scaled_size(40, 40, 1) == (32, 32)


def test_an_idle_model_is_unloaded_after_the_ttl(tmp_path: Path) -> None:
    install_ocr_model(tmp_path)
    clock = trio.testing.MockClock(autojump_threshold=0)

    async def main() -> None:
        ocr = LocalOcr(tmp_path, ttl=300.0, poll=10.0)
        # a loaded model, put in place directly: threads and MockClock do not mix
        reader = load_reader(OcrPaths.of(tmp_path, MODEL), 1)
        key = (MODEL, OCR_TASK)
        ocr._slots[key] = local._Slot(encoder=reader, last_used=trio.current_time())
        async with trio.open_nursery() as nursery:
            await nursery.start(ocr.run)
            await trio.sleep(295)
            assert ocr.statistics().loaded == (f"{MODEL}/{OCR_TASK}",)
            ocr._slots[key].in_use = 1  # a model reading is never unloaded
            await trio.sleep(20)
            assert ocr.statistics().loaded == (f"{MODEL}/{OCR_TASK}",)
            ocr._slots[key].in_use = 0
            await trio.sleep(10)
            assert ocr.statistics().loaded == ()
            assert ocr.statistics().unloads == 1
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)


def test_detection_input_is_normalised_as_immichs_service_does() -> None:
    """BGR, ``(value - 0.5) / 127.5``: Immich subtracts PP-OCR's mean of 0.5 from 0-255 values."""
    image = Image.new("RGB", (64, 32), (255, 0, 0))
    data = preprocess(image, 736)
    assert data.shape == (1, 3, 32, 64)
    assert data[0, :, 0, 0] == pytest.approx([-0.5 / 127.5, -0.5 / 127.5, 254.5 / 127.5])
