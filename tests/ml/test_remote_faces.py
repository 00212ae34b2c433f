"""Face detection through Immich's ``/predict`` protocol, against a small server in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from fake_ml import free_port, predict_app, serve_app

from immich_trio import sysconfig
from immich_trio.ml.face_service import (
    FaceService,
    FacesUnavailable,
    face_model,
    facial_recognition_enabled,
    min_score,
    parse_answer,
)
from immich_trio.ml.local_faces import LocalFaces
from immich_trio.ml.remote import RemoteML

LIMIT = 30
EMBEDDING = "[" + ",".join(["0.25"] * 512) + "]"
ANSWER = {
    "facial-recognition": [
        {"boundingBox": {"x1": 10.0, "y1": 20.0, "x2": 50.0, "y2": 70.0}, "embedding": EMBEDDING, "score": 0.93},
    ],
    "imageHeight": 480,
    "imageWidth": 640,
}


def _config(url: str) -> dict[str, Any]:
    return {
        "machineLearning": {
            "enabled": True,
            "urls": [url],
            "availabilityChecks": {"enabled": False},
            "facialRecognition": {"enabled": True, "modelName": "buffalo_l", "minScore": 0.6},
        }
    }


async def test_the_request_and_answer_are_immichs(tmp_path: Path, nursery: trio.Nursery) -> None:
    seen: list[dict[str, Any]] = []
    port = free_port()
    await nursery.start(serve_app, predict_app(seen, ANSWER), port)
    image = tmp_path / "preview.jpeg"
    image.write_bytes(b"jpeg bytes")
    service = FaceService(LocalFaces(tmp_path), RemoteML())
    with trio.fail_after(LIMIT):
        found = await service.detect(_config(f"http://127.0.0.1:{port}"), image)
    assert seen == [{
        "entries": {"facial-recognition": {
            "detection": {"modelName": "buffalo_l", "options": {"minScore": 0.6}},
            "recognition": {"modelName": "buffalo_l"},
        }},
        "image": b"jpeg bytes",
    }]
    assert (found.image_width, found.image_height) == (640, 480)
    [face] = found.faces
    assert (face.x1, face.y1, face.x2, face.y2, face.score, face.embedding) == (10, 20, 50, 70, 0.93, EMBEDDING)


async def test_a_malformed_answer_and_no_service_are_clear_errors(tmp_path: Path, nursery: trio.Nursery) -> None:
    port = free_port()
    await nursery.start(serve_app, predict_app([], {"clip": "[1]"}), port)
    image = tmp_path / "preview.jpeg"
    image.write_bytes(b"jpeg bytes")
    service = FaceService(LocalFaces(tmp_path), RemoteML())
    with trio.fail_after(LIMIT):
        with pytest.raises(FacesUnavailable, match="no 'facial-recognition' list"):
            await service.detect(_config(f"http://127.0.0.1:{port}"), image)
        with pytest.raises(FacesUnavailable, match="failed for all URLs"):
            await service.detect(_config(f"http://127.0.0.1:{free_port()}"), image)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({**ANSWER, "imageWidth": "wide"}, "imageWidth is not a number"),
        ({**ANSWER, "facial-recognition": [{"embedding": EMBEDDING}]}, "no boundingBox"),
        ({**ANSWER, "facial-recognition": [{**ANSWER["facial-recognition"][0], "embedding": None}]}, "no embedding"),
    ],
)
def test_answers_that_cannot_be_stored_are_refused(answer: dict[str, Any], message: str) -> None:
    with pytest.raises(FacesUnavailable, match=message):
        parse_answer(answer)


def test_an_embedding_sent_as_a_list_is_taken() -> None:
    face = {**ANSWER["facial-recognition"][0], "embedding": [0.5, -1]}
    assert parse_answer({**ANSWER, "facial-recognition": [face]}).faces[0].embedding == "[0.5,-1.0]"


@pytest.mark.parametrize(
    ("partial", "on", "model", "score"),
    [
        ({}, True, "buffalo_l", 0.7),  # Immich's defaults: ML and facial recognition on
        ({"machineLearning": {"enabled": False}}, False, "buffalo_l", 0.7),
        ({"machineLearning": {"facialRecognition": {"enabled": False}}}, False, "buffalo_l", 0.7),
        ({"machineLearning": {"facialRecognition": {"modelName": "antelopev2", "minScore": 0.5}}}, True, "antelopev2", 0.5),
    ],
)
def test_the_facial_recognition_settings_are_read_from_the_system_config(
    partial: dict[str, Any], on: bool, model: str, score: float
) -> None:
    config = sysconfig.merge(sysconfig.defaults(), partial)
    assert (facial_recognition_enabled(config), face_model(config), min_score(config)) == (on, model, score)
