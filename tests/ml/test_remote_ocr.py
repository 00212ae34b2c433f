"""OCR through Immich's ML service protocol (``POST /predict``) against a small server in the
test: the request Immich's server sends, the answer taken as Immich's service gives it, and a
malformed answer refused; and a missing model fetched, checksum checked, from a stand-in for
the model repository Immich's ML service fetches OCR models from."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from fake_ml import free_port, predict_app, serve_app
from ocr_models import DETECTION_FILE, RECOGNITION_FILE, WORDS, shipped_models, text_image
from quart_trio import QuartTrio
from test_remote_ml import LIMIT

from immich_trio.ml.layout import ModelError
from immich_trio.ml.ocr import models
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
    return predict_app(seen, {"ocr": answer, "imageHeight": 360, "imageWidth": 640})


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
    port = free_port()
    await nursery.start(serve_app, _ml_app(seen, ANSWER), port)
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
    port = free_port()
    await nursery.start(serve_app, _ml_app([], answer), port)
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
        await service.read(_config(f"http://127.0.0.1:{free_port()}"), preview)


def _model_hub(requested: list[str]) -> QuartTrio:
    """RapidOCR's model repository as ``download_ocr`` asks it: ``/<det|rec>/<file>.onnx``,
    answered with the models the test dependency ships."""
    app = QuartTrio("fake-hub")

    @app.get("/<kind>/<name>")
    async def resolve(kind: str, name: str) -> Any:
        requested.append(f"{kind}/{name}")
        return await trio.Path(shipped_models() / (DETECTION_FILE if kind == "det" else RECOGNITION_FILE)).read_bytes()

    return app


def _onnx_files(root: Path) -> list[Path]:
    return list(root.rglob("*.onnx*"))


def _digest(name: str) -> str:
    return hashlib.sha256((shipped_models() / name).read_bytes()).hexdigest()


async def test_a_missing_model_is_downloaded_as_immich_fetches_it(
    tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested: list[str] = []
    port = free_port()
    await nursery.start(serve_app, _model_hub(requested), port)
    monkeypatch.setenv("OCR_MODEL_ENDPOINT", f"http://127.0.0.1:{port}")
    # the shipped files stand in for RapidOCR's: their checksums in its table
    det, rec = "det/ch_PP-OCRv5_det_mobile.onnx", "rec/en_PP-OCRv5_rec_mobile.onnx"
    monkeypatch.setitem(models.DETECTION_FILES, "mobile", (det, _digest(DETECTION_FILE)))
    monkeypatch.setitem(models.RECOGNITION_FILES, ("en", "mobile"), (rec, _digest(RECOGNITION_FILE)))
    preview = tmp_path / "preview.png"
    preview.write_bytes(text_image())
    service = OcrService(LocalOcr(tmp_path / "cache"))
    config = {"machineLearning": {"enabled": True, "urls": [], "ocr": {"enabled": True, "modelName": "EN__PP-OCRv5_mobile"}}}
    with trio.fail_after(LIMIT):
        result = await service.read(config, preview)
    assert result.text == tuple(text for text, _ in WORDS)
    # detection for every language, recognition the language's, into Immich's layout
    assert requested == [det, rec]
    paths = OcrPaths.of(tmp_path / "cache", "EN__PP-OCRv5_mobile")
    assert paths.detection == tmp_path / "cache" / "ocr" / "PP-OCRv5_mobile" / "detection" / "model.onnx"
    assert await trio.Path(paths.detection).is_file() and await trio.Path(paths.recognition).is_file()


async def test_a_download_with_another_checksum_is_refused(tmp_path: Path, nursery: trio.Nursery) -> None:
    requested: list[str] = []
    port = free_port()
    await nursery.start(serve_app, _model_hub(requested), port)
    paths = OcrPaths.of(tmp_path, "PP-OCRv5_server")
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match="SHA-256 differs"):
        await trio.to_thread.run_sync(
            partial(models.download_ocr, paths, "PP-OCRv5_server", endpoint=f"http://127.0.0.1:{port}")
        )
    assert requested == ["det/ch_PP-OCRv5_det_server.onnx"]
    assert _onnx_files(tmp_path) == []  # nothing half-written or wrong left behind


def test_the_files_follow_the_models_name() -> None:
    det, rec = models.source_files("PP-OCRv5_server")
    assert (det[0], rec[0]) == ("det/ch_PP-OCRv5_det_server.onnx", "rec/ch_PP-OCRv5_rec_server.onnx")
    det, rec = models.source_files("LATIN__PP-OCRv5_mobile")
    assert (det[0], rec[0]) == ("det/ch_PP-OCRv5_det_mobile.onnx", "rec/latin_PP-OCRv5_rec_mobile.onnx")
    with pytest.raises(ModelError, match="no server recognition model for the language 'en'"):
        models.source_files("EN__PP-OCRv5_server")
