"""One OCR model (detection then recognition) and its answer in Immich's form.

The answer is what Immich's ML service sends under ``ocr``: ``box`` (8 numbers a text, the four
corners clockwise from the top-left as fractions of the image's width and height), ``boxScore``,
``text`` and ``textScore``, keeping only texts scored above ``minScore`` of recognition.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from immich_trio.ml.layout import ModelError
from immich_trio.ml.ocr.detection import DEFAULT_MAX_RESOLUTION, TextDetector
from immich_trio.ml.ocr.detection import DEFAULT_MIN_SCORE as DEFAULT_MIN_DETECTION_SCORE
from immich_trio.ml.ocr.models import OcrPaths
from immich_trio.ml.ocr.recognition import DEFAULT_MIN_SCORE as DEFAULT_MIN_RECOGNITION_SCORE
from immich_trio.ml.ocr.recognition import TextRecognizer


class ImageError(Exception):
    """The image cannot be decoded."""


@attrs.frozen(kw_only=True)
class OcrOptions:
    """``machineLearning.ocr`` as the ML request carries it."""

    min_detection_score: float = DEFAULT_MIN_DETECTION_SCORE
    min_recognition_score: float = DEFAULT_MIN_RECOGNITION_SCORE
    max_resolution: int = DEFAULT_MAX_RESOLUTION


@attrs.frozen(kw_only=True)
class OcrResult:
    box: tuple[float, ...] = ()
    box_score: tuple[float, ...] = ()
    text: tuple[str, ...] = ()
    text_score: tuple[float, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Immich's ML answer form."""
        return {
            "box": list(self.box),
            "boxScore": list(self.box_score),
            "text": list(self.text),
            "textScore": list(self.text_score),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> OcrResult:
        """Immich's ML answer, checked: as many boxes of 8 finite numbers as texts and scores."""
        try:
            box = tuple(float(v) for v in value["box"])
            box_score = tuple(float(v) for v in value["boxScore"])
            text = tuple(str(v) for v in value["text"])
            text_score = tuple(float(v) for v in value["textScore"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the OCR answer is malformed: {exc!r}") from exc
        n = len(text)
        if len(box) != 8 * n or len(box_score) != n or len(text_score) != n:
            raise ValueError(
                f"the OCR answer has {len(box)} box numbers, {len(box_score)} box scores and"
                f" {len(text_score)} text scores for {n} texts"
            )
        if not all(np.isfinite(box + box_score + text_score)):
            raise ValueError("the OCR answer holds numbers that are not finite")
        return cls(box=box, box_score=box_score, text=text, text_score=text_score)


def decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot decode the image: {exc}") from exc


class OcrReader:
    """One loaded OCR model: its detection and recognition sessions."""

    def __init__(self, paths: OcrPaths, *, threads: int = 1) -> None:
        self.detector = TextDetector(paths.detection, threads=threads)
        self.recognizer = TextRecognizer(paths.recognition, paths.charset, threads=threads)

    def read_file(self, path: Path, options: OcrOptions) -> OcrResult:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return self.read(decode(data), options)

    def read_bytes(self, data: bytes, options: OcrOptions) -> OcrResult:
        return self.read(decode(data), options)

    def read(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        found = self.detector.detect(
            image, min_score=options.min_detection_score, max_resolution=options.max_resolution
        )
        if len(found.boxes) == 0:
            return OcrResult()
        texts, scores = self.recognizer.recognise(image, found.boxes)
        boxes = found.boxes / np.array([image.width, image.height], dtype=np.float32)
        keep = [i for i, score in enumerate(scores) if score > options.min_recognition_score]
        return OcrResult(
            box=tuple(float(v) for i in keep for v in boxes[i].reshape(-1)),
            box_score=tuple(float(found.scores[i]) for i in keep),
            text=tuple(texts[i] for i in keep),
            text_score=tuple(float(scores[i]) for i in keep),
        )


def load_reader(paths: OcrPaths, threads: int) -> OcrReader:
    """The model at ``paths``; ``ModelError`` when a file is missing or not a usable model."""
    missing = paths.missing()
    if missing:
        raise ModelError(f"OCR model in {paths.root} is missing {', '.join(missing)}")
    return OcrReader(paths, threads=threads)
