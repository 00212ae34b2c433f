"""In-process face detection and recognition: Immich's ``facial-recognition`` models
(``<cache>/facial-recognition/<model>/{detection,recognition}/model.onnx``) loaded together on
first use, run in a thread under the engine's limiter, unloaded when idle (``local.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_trio.ml.faces import Detection, Face, FaceDetector, FaceModels, FaceRecognizer
from immich_trio.ml.layout import (
    DETECTION,
    FACE_TASK,
    RECOGNITION,
    FacePaths,
    ModelError,
    download_faces,
)
from immich_trio.ml.local import LocalModels

log = logging.getLogger(__name__)


class LocalFaces(LocalModels[FaceModels]):
    """A detector and recognizer pair per model name; a missing file is fetched first."""

    def __init__(
        self, cache: Path, *, download: Callable[[FacePaths, str, str], None] = download_faces, **kwargs: Any
    ) -> None:
        super().__init__(cache, **kwargs)
        self._download = download

    async def detect(self, model_name: str, path: Path, min_score: float) -> tuple[Detection, list[Face]]:
        """The faces of the image at ``path`` scoring at least ``min_score``, with embeddings."""
        return await self._infer(model_name, FACE_TASK, lambda models: models.faces_in_file(path, min_score))

    def _load(self, model_name: str, kind: str) -> FaceModels:
        paths = FacePaths.of(self.cache, model_name)
        for part in (DETECTION, RECOGNITION):
            if paths.missing(part):
                self._download(paths, model_name, part)
                if paths.missing(part):
                    raise ModelError(f"Model '{model_name}' is missing {', '.join(paths.missing(part))}")
        log.info("Loading facial-recognition model '%s' to memory", model_name)
        return FaceModels(
            detector=FaceDetector(paths.model(DETECTION), threads=self.threads),
            recognizer=FaceRecognizer(paths.model(RECOGNITION), threads=self.threads),
        )
