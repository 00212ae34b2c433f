"""In-process face detection and recognition on tiny real ONNX models in Immich's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trio
from PIL import Image
from tiny_faces import (
    EXPECTED_BOX,
    FACE_SQUARE,
    MODEL,
    build_faces,
    expected_keypoints,
    face_image,
    reference_embedding,
)

from immich_trio.ml.face_service import FaceService
from immich_trio.ml.faces import FaceDetector, decode_bgr
from immich_trio.ml.layout import FacePaths, ModelError, download_faces
from immich_trio.ml.local_faces import LocalFaces

LIMIT = 30
SECOND_SQUARE = (64, 160, 80, 176)  # fills the cell at column 4, row 10: anchor (128, 320)


def _png(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


def _config(model: str = MODEL, min_score: float = 0.7) -> dict[str, object]:
    return {"machineLearning": {"enabled": True, "urls": [],
                                "facialRecognition": {"enabled": True, "modelName": model, "minScore": min_score}}}


async def test_one_face_box_keypoints_and_embedding(tmp_path: Path) -> None:
    build_faces(tmp_path / "cache")
    image = _png(tmp_path / "face.png", face_image())
    faces = LocalFaces(tmp_path / "cache")
    with trio.fail_after(LIMIT):
        detection, found = await faces.detect(MODEL, image, 0.7)
    assert (detection.width, detection.height) == (320, 240)
    assert len(found) == 1
    assert found[0].box == EXPECTED_BOX
    assert 0.8 < found[0].score < 1.0
    np.testing.assert_allclose(found[0].keypoints, expected_keypoints(), atol=1e-4)
    bgr = decode_bgr(image.read_bytes())
    assert found[0].embedding.shape == (512,)
    np.testing.assert_allclose(found[0].embedding, reference_embedding(bgr), atol=1e-5)
    assert faces.statistics().loaded == (f"{MODEL}/facial-recognition",)


async def test_two_faces_and_the_min_score(tmp_path: Path) -> None:
    build_faces(tmp_path)
    image = _png(tmp_path / "two.png", face_image((FACE_SQUARE, SECOND_SQUARE)))
    service = FaceService(LocalFaces(tmp_path))
    with trio.fail_after(LIMIT):
        answer = await service.detect(_config(), image)
        assert (answer.image_width, answer.image_height) == (320, 240)
        boxes = sorted((f.x1, f.y1, f.x2, f.y2) for f in answer.faces)
        # the second face: anchor (128, 320) / 2 = (64, 160), box distances (8, 16, 24, 32) / 2
        assert boxes == [(60, 152, 76, 176), (156, 88, 172, 112)]
        assert all(f.embedding.startswith("[") and len(f.embedding.split(",")) == 512 for f in answer.faces)
        # best first; the first face's colour marks lower its score (0.88 against 0.97)
        assert [(f.x1, round(f.score, 2)) for f in answer.faces] == [(60, 0.97), (156, 0.88)]
        only = await service.detect(_config(min_score=0.9), image)
        assert [(f.x1, f.y1) for f in only.faces] == [(60, 152)]
        assert (await service.detect(_config(min_score=0.99), image)).faces == ()


async def test_a_recognizer_with_a_fixed_batch_embeds_one_face_at_a_time(tmp_path: Path) -> None:
    build_faces(tmp_path / "batched")
    build_faces(tmp_path / "single", batch=1)
    image = _png(tmp_path / "two.png", face_image((FACE_SQUARE, SECOND_SQUARE)))
    with trio.fail_after(LIMIT):
        _, batched = await LocalFaces(tmp_path / "batched").detect(MODEL, image, 0.7)
        _, single = await LocalFaces(tmp_path / "single").detect(MODEL, image, 0.7)
    assert len(batched) == len(single) == 2
    for a, b in zip(batched, single, strict=True):
        np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)


async def test_no_face_in_a_black_image(tmp_path: Path) -> None:
    build_faces(tmp_path)
    image = _png(tmp_path / "black.png", np.zeros((50, 90, 3), dtype=np.uint8))
    with trio.fail_after(LIMIT):
        detection, found = await LocalFaces(tmp_path).detect(MODEL, image, 0.7)
    assert (detection.width, detection.height, found) == (90, 50, [])


async def test_missing_model_is_fetched_then_fails_clearly(tmp_path: Path) -> None:
    attempts: list[str] = []

    def no_network(paths: FacePaths, name: str, kind: str) -> None:
        attempts.append(f"{name}/{kind}")
        download_faces(paths, name, kind, endpoint="http://127.0.0.1:9")  # nothing listens there

    faces = LocalFaces(tmp_path, download=no_network)
    image = _png(tmp_path / "face.png", face_image())
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match="could not be downloaded"):
        await faces.detect("buffalo_l", image, 0.7)
    assert attempts == ["buffalo_l/detection"]
    assert faces.statistics().loaded == ()


@pytest.mark.parametrize("part", ["detection", "recognition"])
async def test_corrupt_model_is_a_model_error(tmp_path: Path, part: str) -> None:
    root = build_faces(tmp_path)
    (root / part / "model.onnx").write_bytes(b"not a model")
    image = _png(tmp_path / "face.png", face_image())
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match="cannot load"):
        await LocalFaces(tmp_path).detect(MODEL, image, 0.7)


def test_a_model_that_is_not_a_face_detector_is_refused(tmp_path: Path) -> None:
    root = build_faces(tmp_path)
    with pytest.raises(ModelError, match="1 outputs"):
        FaceDetector(root / "recognition" / "model.onnx")


async def test_an_undecodable_image_is_a_model_error(tmp_path: Path) -> None:
    build_faces(tmp_path)
    bad = tmp_path / "bad.jpeg"
    bad.write_bytes(b"\xff\xd8 not really")
    with trio.fail_after(LIMIT), pytest.raises(ModelError, match="cannot decode"):
        await LocalFaces(tmp_path).detect(MODEL, bad, 0.7)
