"""A real PP-OCR model in Immich's layout for tests, and images with printed words.

The model files come from the ``rapidocr`` wheel (a test dependency), which ships PP-OCR
detection and recognition ONNX models with the recognition dictionary in the model's metadata;
they are copied into ``<cache>/ocr/<MODEL>/{detection,recognition}/model.onnx`` as Immich's
model cache holds them. The package itself is never imported.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

MODEL = "PP-OCRv6_small"
DETECTION_FILE = "PP-OCRv6_det_small.onnx"
RECOGNITION_FILE = "PP-OCRv6_rec_small.onnx"


def shipped_models() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    assert spec is not None and spec.submodule_search_locations, "the rapidocr test dependency is missing"
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def install_ocr_model(cache: Path, name: str = MODEL) -> Path:
    """Copy the shipped models into ``cache`` in Immich's layout; the model's folder."""
    root = cache / "ocr" / name
    for kind, file in (("detection", DETECTION_FILE), ("recognition", RECOGNITION_FILE)):
        (root / kind).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped_models() / file, root / kind / "model.onnx")
    return root


# Words drawn by ``text_image``: the text and its top-left corner on a 640 x 360 canvas.
WORDS = (("HELLO WORLD", (40, 60)), ("Invoice 42", (200, 220)))
SIZE = (640, 360)


def text_image(words: tuple[tuple[str, tuple[int, int]], ...] = WORDS, *, fmt: str = "PNG") -> bytes:
    """Black words in Pillow's default font at 48 px on white."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for text, corner in words:
        draw.text(corner, text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def drawn_box(text: str, corner: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where Pillow put ``text`` drawn at ``corner``, as fractions (left, top, right, bottom)."""
    draw = ImageDraw.Draw(Image.new("RGB", SIZE))
    left, top, right, bottom = draw.textbbox(corner, text, font=ImageFont.load_default(size=48))
    return left / SIZE[0], top / SIZE[1], right / SIZE[0], bottom / SIZE[1]
