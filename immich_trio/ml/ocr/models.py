"""Where an OCR model's files are in Immich's model cache, and the fetch of a missing one.

Immich's layout: ``<cache>/ocr/<model>/detection/model.onnx`` and
``<cache>/ocr/<model>/recognition/model.onnx``. A language-specific model is named
``<LANG>__<model>`` (``EN__PP-OCRv5_mobile``): its recognition model is under that name, while
detection, the same for every language, is the base model's (``ocr/PP-OCRv5_mobile/detection``),
as Immich's ML service keys them. The recognition model's character dictionary
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


def detection_name(model_name: str) -> str:
    """The model whose detection part a (maybe language-specific) model uses."""
    return clean_name(model_name).split("__")[-1]


@attrs.frozen
class OcrPaths:
    """Where one OCR model's files are in the cache: ``root`` holds its recognition part,
    ``detection_root`` its detection part (the same folder unless the name has a language)."""

    root: Path
    detection_root: Path

    @classmethod
    def of(cls, cache: Path, model_name: str) -> OcrPaths:
        return cls(cache / OCR_TASK / clean_name(model_name), cache / OCR_TASK / detection_name(model_name))

    @property
    def detection(self) -> Path:
        return self.detection_root / DETECTION / MODEL_FILE

    @property
    def recognition(self) -> Path:
        return self.root / RECOGNITION / MODEL_FILE

    @property
    def charset(self) -> Path:
        return self.root / RECOGNITION / CHARSET_FILE

    def missing(self) -> list[str]:
        return [str(p.relative_to(p.parents[2])) for p in (self.detection, self.recognition) if not p.is_file()]


def download_ocr(paths: OcrPaths, model_name: str, *, endpoint: str | None = None) -> None:
    """Fetch the missing model files of an OCR model (blocking: run in a thread); each lands
    in a ``.part`` file renamed into place when complete, with a progress line in the log."""
    base = endpoint or os.environ.get("HF_ENDPOINT") or HF_ENDPOINT
    missing = paths.missing()
    if not missing:
        return
    log.info("Downloading ocr model '%s' to %s. This may take a while.", model_name, paths.root)
    wanted = ((detection_name(model_name), paths.detection), (clean_name(model_name), paths.recognition))
    for name, target in wanted:
        if target.is_file():
            continue
        relative = f"{target.parent.name}/{target.name}"
        try:
            _fetch(file_url(name, relative, endpoint=base), target)
        except (httpx.HTTPError, OSError) as exc:
            raise ModelError(
                f"Model '{model_name}' is missing {relative} in {target.parents[1]} and could not be"
                f" downloaded from {base}: {exc}"
            ) from exc
