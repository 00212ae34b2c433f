"""OCR through Immich's ML service protocol (``POST /predict``) against a small server in the
test: the request Immich's server sends, the answer taken as Immich's service gives it, and a
malformed answer refused; and a missing model fetched from a stand-in for Immich's model
repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from ocr_models import DETECTION_FILE, RECOGNITION_FILE, WORDS, shipped_models, text_image
from quart import request
from quart_trio import QuartTrio
from test_remote_ml import LIMIT, _free_port, _serve

from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.models import OcrPaths
from immich_trio.ml.ocr.service import OcrService, OcrUnavailable

ANSWER = {
    "box": [0.1, 0.2, 0.5, 0.2, 0.5, 0.3, 0.1, 0.3],
    "boxScore": [0.91],
    "text": ["Invoice 42"],
    "textScore": [0.97],
}


def _ml_app(seen: list[dict[str, Any]], answer: Any) -> QuartTrio:
    app = QuartTrio("fake-ml")

    @app.post("/predict")
    async def predict() -> Any:
        form = await request.form
        files = await request.files
        seen.append({"entries": json.loads(form["entries"]), "image": files["image"].read()})
        return {"ocr": answer, "imageHeight": 360, "imageWidth": 640}

    return app


def _config(url: str) -> dict[str, Any]:
    return {
        "machineLearning": {
            "enabled": True,
            "urls": [url],
            "availabilityChecks": {"enabled": False},
            "ocr": {
                "enabled": True,
                "modelName": "PP-OCRv5_server",
                "minDetectionScore": 0.6,
                "minRecognitionScore": 0.85,
                "maxResolution": 1024,
            },
        }
    }


async def test_the_request_and_answer_are_immichs(tmp_path: Path, nursery: trio.Nursery) -> None:
    seen: list[dict[str, Any]] = []
    port = _free_port()
    await nursery.start(_serve, _ml_app(seen, ANSWER), port)
    preview = tmp_path / "preview.jpeg"
    preview.write_bytes(b"jpeg bytes")
    service = OcrService(LocalOcr(tmp_path))
    with trio.fail_after(LIMIT):
        result = await service.read(_config(f"http://127.0.0.1:{port}"), preview)
    assert seen == [
        {
            "entries": {
                "ocr": {
                    "detection": {"modelName": "PP-OCRv5_server", "options": {"minScore": 0.6, "maxResolution": 1024}},
                    "recognition": {"modelName": "PP-OCRv5_server", "options": {"minScore": 0.85}},
                }
            },
            "image": b"jpeg bytes",
        }
    ]
    assert result.as_json() == ANSWER
    assert service.local.statistics().loads == 0  # nothing ran here


@pytest.mark.parametrize(
    "answer",
    [
        {"box": [0.1, 0.2], "boxScore": [0.9], "text": ["x"], "textScore": [0.9]},  # not 8 numbers
        {"box": [], "boxScore": [], "text": ["x"], "textScore": []},
        {"text": ["x"]},
        "nonsense",
    ],
)
async def test_a_malformed_answer_is_refused(tmp_path: Path, nursery: trio.Nursery, answer: Any) -> None:
    port = _free_port()
    await nursery.start(_serve, _ml_app([], answer), port)
    preview = tmp_path / "preview.jpeg"
    preview.write_bytes(b"jpeg bytes")
    service = OcrService(LocalOcr(tmp_path))
    with trio.fail_after(LIMIT), pytest.raises(OcrUnavailable):
        await service.read(_config(f"http://127.0.0.1:{port}"), preview)


async def test_every_url_down_is_a_clear_error(tmp_path: Path) -> None:
    preview = tmp_path / "preview.jpeg"
    preview.write_bytes(b"jpeg bytes")
    service = OcrService(LocalOcr(tmp_path))
    with trio.fail_after(LIMIT), pytest.raises(OcrUnavailable, match="failed for all URLs"):
        await service.read(_config(f"http://127.0.0.1:{_free_port()}"), preview)


def _model_hub(requested: list[str]) -> QuartTrio:
    """Immich's model repository as ``download_ocr`` asks it: ``/<org>/<model>/resolve/main/<file>``."""
    app = QuartTrio("fake-hub")
    files = {"detection/model.onnx": DETECTION_FILE, "recognition/model.onnx": RECOGNITION_FILE}

    @app.get("/immich-app/<model>/resolve/main/<kind>/<name>")
    async def resolve(model: str, kind: str, name: str) -> Any:
        requested.append(f"{model}/{kind}/{name}")
        return await trio.Path(shipped_models() / files[f"{kind}/{name}"]).read_bytes()

    return app


async def test_a_missing_model_is_downloaded_from_immichs_repository(
    tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested: list[str] = []
    port = _free_port()
    await nursery.start(_serve, _model_hub(requested), port)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    preview = tmp_path / "preview.png"
    preview.write_bytes(text_image())
    service = OcrService(LocalOcr(tmp_path / "cache"))
    config = {"machineLearning": {"enabled": True, "urls": [], "ocr": {"enabled": True, "modelName": "EN__PP-OCRv5_mobile"}}}
    with trio.fail_after(LIMIT):
        result = await service.read(config, preview)
    assert result.text == tuple(text for text, _ in WORDS)
    # detection from the base model, recognition from the language's, into Immich's layout
    assert requested == ["PP-OCRv5_mobile/detection/model.onnx", "EN__PP-OCRv5_mobile/recognition/model.onnx"]
    paths = OcrPaths.of(tmp_path / "cache", "EN__PP-OCRv5_mobile")
    assert await trio.Path(paths.detection).is_file() and await trio.Path(paths.recognition).is_file()
