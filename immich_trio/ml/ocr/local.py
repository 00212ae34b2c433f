"""In-process OCR: Immich's ``ocr`` models (``<cache>/ocr/<model>/{detection,recognition}/``)
loaded together on first use, read in a thread under the engine's limiter, unloaded when idle,
with the policy of every in-process model (``ml/local.py``). A missing model is fetched once
(``download_ocr``); a model that is still missing or cannot be loaded is a ``ModelError`` for
that job, and the next job tries again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_trio.ml.layout import ModelError
from immich_trio.ml.local import LocalModels
from immich_trio.ml.ocr.models import OcrPaths, download_ocr
from immich_trio.ml.ocr.reader import OcrOptions, OcrReader, OcrResult, load_reader

log = logging.getLogger(__name__)

OCR_TASK = "ocr"
"""The kind its models are kept under (one reader holds detection and recognition)."""


class LocalOcr(LocalModels[OcrReader]):
    """Owns this process's loaded OCR readers, one per model name."""

    def __init__(
        self, cache: Path, *, download: Callable[[OcrPaths, str], None] = download_ocr, **kwargs: Any
    ) -> None:
        super().__init__(cache, **kwargs)
        self._download = download

    async def read_file(self, model_name: str, path: Path, options: OcrOptions) -> OcrResult:
        return await self._infer(model_name, OCR_TASK, lambda reader: reader.read_file(path, options))

    def _load(self, model_name: str, kind: str) -> OcrReader:
        paths = OcrPaths.of(self.cache, model_name)
        if paths.missing():
            self._download(paths, model_name)
            if paths.missing():
                raise ModelError(f"Model '{model_name}' is missing {', '.join(paths.missing())}")
        log.info("Loading ocr model '%s' to memory", model_name)
        return load_reader(paths, self.threads)
