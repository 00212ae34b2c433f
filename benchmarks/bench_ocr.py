"""OCR of a preview in-process against onnxruntime alone, on the real PP-OCR models the
``rapidocr`` test dependency ships (``tests/ocr_models.py``), and what they read.

    python benchmarks/bench_ocr.py [--images 10] [--size 1440x810]

The preview holds four lines of printed words (Pillow's default font, 48 px). Numbers, seconds
per image on one inference thread (``taskset`` for one core):
- ``load``: both models loaded into onnxruntime sessions (a job's first read pays it);
- ``onnxruntime alone``: the detector on its ready input, then the recognizer on ready line
  batches: the floor of what any server pays for these models;
- ``reader``: ``OcrReader.read_file``: decoding, resizing, the DB post-processing, the crops,
  both models and the CTC decoding;
- ``in-process service``: ``LocalOcr.read_file`` from Trio (model slot, worker thread, limiter).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trio
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ocr_models import MODEL, install_ocr_model

from immich_trio.ml.ocr.detection import preprocess
from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.models import OcrPaths
from immich_trio.ml.ocr.reader import OcrOptions, load_reader
from immich_trio.ml.ocr.recognition import BATCH, batch_input, crops

LINES = ("HELLO WORLD", "Invoice 42", "The quick brown fox", "jumps over 13 lazy dogs")


def preview(path: Path, width: int, height: int) -> None:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for i, text in enumerate(LINES):
        draw.text((width // 20, height // 10 + i * height // 5), text, fill="black", font=font)
    image.save(path, quality=80)


def per_image(count: int, seconds: float) -> str:
    return f"{1000 * seconds / count:8.1f} ms per image"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", default="1440x810")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cache = Path(tempfile.mkdtemp())
    install_ocr_model(cache)
    path = cache / "preview.jpeg"
    preview(path, width, height)
    options = OcrOptions()

    start = time.perf_counter()
    reader = load_reader(OcrPaths.of(cache, MODEL), threads=1)
    print(f"load              {1000 * (time.perf_counter() - start):8.1f} ms")

    result = reader.read_file(path, options)
    print("read:", [(t, round(s, 4)) for t, s in zip(result.text, result.text_score, strict=True)])

    image = Image.open(path).convert("RGB")
    found = reader.detector.detect(image, min_score=options.min_detection_score, max_resolution=options.max_resolution)
    detector, recognizer = reader.detector._session, reader.recognizer._session
    det_input = {detector.get_inputs()[0].name: preprocess(image, options.max_resolution)}
    pieces = crops(image, found.boxes)
    order = np.argsort([p.shape[1] / p.shape[0] for p in pieces], kind="stable")
    batches = [batch_input([pieces[i] for i in order[k : k + BATCH]]) for k in range(0, len(order), BATCH)]
    rec_name = recognizer.get_inputs()[0].name
    start = time.perf_counter()
    for _ in range(args.images):
        detector.run(None, det_input)
        for batch in batches:
            recognizer.run(None, {rec_name: batch})
    print(f"onnxruntime alone {per_image(args.images, time.perf_counter() - start)}")

    start = time.perf_counter()
    for _ in range(args.images):
        reader.read_file(path, options)
    print(f"reader            {per_image(args.images, time.perf_counter() - start)}")

    async def service() -> float:
        ocr = LocalOcr(cache, download=lambda paths, name: None)
        await ocr.read_file(MODEL, path, options)  # loaded once, as a running server has it
        begin = time.perf_counter()
        for _ in range(args.images):
            await ocr.read_file(MODEL, path, options)
        return time.perf_counter() - begin

    print(f"in-process service{per_image(args.images, trio.run(service))}")


if __name__ == "__main__":
    main()
