"""Where an OCR model's files are in Immich's model cache, and the fetch of a missing one.

Immich's layout: ``<cache>/ocr/<model>/detection/model.onnx`` and
``<cache>/ocr/<model>/recognition/model.onnx``. The recognition model's character dictionary
is its ONNX metadata entry ``character`` (one character a line, as PP-OCR exports carry it);
a model without it has ``recognition/charset.txt`` beside it. Immich's ML service fetches a
missing model from the Hugging Face repository ``immich-app/<model>``; so does ``download_ocr``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import attrs
import httpx

from immich_trio.ml.layout import HF_ENDPOINT, ModelError, _fetch, clean_name, file_url

log = logging.getLogger(__name__)

OCR_TASK = "ocr"
DETECTION = "detection"
RECOGNITION = "recognition"
MODEL_FILE = "model.onnx"
CHARSET_FILE = "charset.txt"
OCR_FILES = (f"{DETECTION}/{MODEL_FILE}", f"{RECOGNITION}/{MODEL_FILE}")


@attrs.frozen
class OcrPaths:
    """Where one OCR model's files are in the cache."""

    root: Path

    @classmethod
    def of(cls, cache: Path, model_name: str) -> OcrPaths:
        return cls(cache / OCR_TASK / clean_name(model_name))

    @property
    def detection(self) -> Path:
        return self.root / DETECTION / MODEL_FILE

    @property
    def recognition(self) -> Path:
        return self.root / RECOGNITION / MODEL_FILE

    @property
    def charset(self) -> Path:
        return self.root / RECOGNITION / CHARSET_FILE

    def missing(self) -> list[str]:
        return [f for f in OCR_FILES if not (self.root / f).is_file()]


def download_ocr(paths: OcrPaths, model_name: str, *, endpoint: str | None = None) -> None:
    """Fetch the missing model files of an OCR model (blocking: run in a thread); each lands
    in a ``.part`` file renamed into place when complete, with a progress line in the log."""
    base = endpoint or os.environ.get("HF_ENDPOINT") or HF_ENDPOINT
    missing = paths.missing()
    if not missing:
        return
    log.info("Downloading ocr model '%s' to %s. This may take a while.", model_name, paths.root)
    for relative in missing:
        try:
            _fetch(file_url(model_name, relative, endpoint=base), paths.root / relative)
        except (httpx.HTTPError, OSError) as exc:
            raise ModelError(
                f"Model '{model_name}' is missing {relative} in {paths.root} and could not be"
                f" downloaded from {base}: {exc}"
            ) from exc
