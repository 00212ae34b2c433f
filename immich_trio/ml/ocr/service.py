"""OCR for the rest of the server: in-process by default, Immich's ML service when configured.

The switch is CLIP's (``ml/service.py``: ``machineLearning.urls`` other than the built-in
default means remote). The remote request is Immich's: ``entries`` =
``{"ocr":{"detection":{"modelName":…,"options":{"minScore":minDetectionScore,"maxResolution":…}},
"recognition":{"modelName":…,"options":{"minScore":minRecognitionScore}}}}`` with the preview as
``image``; the answer's ``ocr`` is the result (``ml/ocr/reader.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio

from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.reader import OcrOptions, OcrResult
from immich_trio.ml.remote import RemoteError, RemoteML
from immich_trio.ml.service import ml_config, uses_remote

DEFAULT_MODEL = "PP-OCRv5_mobile"


class OcrUnavailable(Exception):
    """The text could not be read remotely (every URL down, or a malformed answer)."""


def _ocr_section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    section = ml_config(config).get("ocr")
    return section if isinstance(section, Mapping) else {}


def ocr_enabled(config: Mapping[str, Any]) -> bool:
    """Immich's ``isOcrEnabled``: ML on and OCR on."""
    return bool(ml_config(config).get("enabled")) and bool(_ocr_section(config).get("enabled"))


def ocr_model(config: Mapping[str, Any]) -> str:
    return str(_ocr_section(config).get("modelName") or DEFAULT_MODEL)


def ocr_options(config: Mapping[str, Any]) -> OcrOptions:
    section = _ocr_section(config)
    defaults = OcrOptions()
    return OcrOptions(
        min_detection_score=float(section.get("minDetectionScore", defaults.min_detection_score)),
        min_recognition_score=float(section.get("minRecognitionScore", defaults.min_recognition_score)),
        max_resolution=int(section.get("maxResolution", defaults.max_resolution)),
    )


def request_entries(model: str, options: OcrOptions) -> dict[str, Any]:
    return {
        "ocr": {
            "detection": {
                "modelName": model,
                "options": {"minScore": options.min_detection_score, "maxResolution": options.max_resolution},
            },
            "recognition": {"modelName": model, "options": {"minScore": options.min_recognition_score}},
        }
    }


class OcrService:
    """Reads the text of an image with the configured model, here or on a remote service.
    ``remote`` is shared with CLIP's service, so both follow one view of which URLs are up."""

    def __init__(self, local: LocalOcr, remote: RemoteML | None = None) -> None:
        self.local = local
        self.remote = remote if remote is not None else RemoteML()

    async def read(self, config: Mapping[str, Any], path: Path) -> OcrResult:
        model, options = ocr_model(config), ocr_options(config)
        if not uses_remote(config):
            return await self.local.read_file(model, path, options)
        data = await trio.Path(path).read_bytes()
        try:
            answer = await self.remote.predict(ml_config(config), request_entries(model, options), image=data)
        except RemoteError as exc:
            raise OcrUnavailable(str(exc)) from exc
        value = answer.get("ocr")
        if not isinstance(value, Mapping):
            raise OcrUnavailable("the machine learning answer has no ocr result")
        try:
            return OcrResult.from_json(value)
        except ValueError as exc:
            raise OcrUnavailable(str(exc)) from exc

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Idle-model unloading, until cancelled (CLIP's service runs the availability checks)."""
        await self.local.run(task_status=task_status)
