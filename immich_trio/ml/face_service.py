"""Face detection for the rest of the server: in-process by default, Immich's ML service when
``machineLearning.urls`` names one (``service.uses_remote``), with the same answer either way.

The remote request is Immich's: multipart ``entries`` =
``{"facial-recognition":{"detection":{"modelName":M,"options":{"minScore":S}},"recognition":{"modelName":M}}}``
and the preview's bytes as ``image``; the answer is ``{"facial-recognition":[{"boundingBox":
{"x1","y1","x2","y2"},"embedding":"[...]","score"}...],"imageHeight":H,"imageWidth":W}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from immich_trio.ml.clip import serialize
from immich_trio.ml.layout import FACE_TASK
from immich_trio.ml.local_faces import LocalFaces
from immich_trio.ml.remote import RemoteError, RemoteML
from immich_trio.ml.service import ml_config, uses_remote

DEFAULT_MODEL = "buffalo_l"
DEFAULT_MIN_SCORE = 0.7


class FacesUnavailable(Exception):
    """The faces could not be had: every ML URL failed, or its answer is not Immich's shape."""


@attrs.frozen(kw_only=True)
class DetectedFace:
    """A face as it is stored: the box in the preview's pixels, the score, the embedding in
    pgvector's text form."""

    x1: int
    y1: int
    x2: int
    y2: int
    score: float
    embedding: str


@attrs.frozen(kw_only=True)
class DetectedFaces:
    image_width: int
    image_height: int
    faces: tuple[DetectedFace, ...]


def _facial(config: Mapping[str, Any]) -> Mapping[str, Any]:
    value = ml_config(config).get("facialRecognition")
    return value if isinstance(value, Mapping) else {}


def facial_recognition_enabled(config: Mapping[str, Any]) -> bool:
    """Immich's ``isFacialRecognitionEnabled``: ML on and facial recognition on."""
    return bool(ml_config(config).get("enabled")) and bool(_facial(config).get("enabled"))


def face_model(config: Mapping[str, Any]) -> str:
    return str(_facial(config).get("modelName") or DEFAULT_MODEL)


def min_score(config: Mapping[str, Any]) -> float:
    value = _facial(config).get("minScore", DEFAULT_MIN_SCORE)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else DEFAULT_MIN_SCORE


def _int(value: float) -> int:
    return round(value)


class FaceService:
    """Detects and embeds the faces of an image with the configured model, here or remotely.
    ``remote`` is shared with CLIP, so one health map serves every ML request, as in Immich."""

    def __init__(self, local: LocalFaces, remote: RemoteML | None = None) -> None:
        self.local = local
        self.remote = remote if remote is not None else RemoteML()

    async def detect(self, config: Mapping[str, Any], path: Path) -> DetectedFaces:
        model, score = face_model(config), min_score(config)
        if uses_remote(config):
            data = await trio.Path(path).read_bytes()
            entries = {
                FACE_TASK: {
                    "detection": {"modelName": model, "options": {"minScore": score}},
                    "recognition": {"modelName": model},
                }
            }
            try:
                answer = await self.remote.predict(ml_config(config), entries, image=data)
            except RemoteError as exc:
                raise FacesUnavailable(str(exc)) from exc
            return parse_answer(answer)
        detection, faces = await self.local.detect(model, path, score)
        return DetectedFaces(
            image_width=detection.width,
            image_height=detection.height,
            faces=tuple(
                DetectedFace(
                    x1=_int(f.box[0]), y1=_int(f.box[1]), x2=_int(f.box[2]), y2=_int(f.box[3]),
                    score=f.score, embedding=serialize(f.embedding),
                )
                for f in faces
            ),
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Idle-model unloading, until cancelled (the remote checks run with CLIP's)."""
        await self.local.run(task_status=task_status)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FacesUnavailable(f"the machine learning answer's {what} is not a number: {value!r}")
    return float(value)


def _embedding(value: Any) -> str:
    if isinstance(value, list):  # tolerate a list where Immich sends its string form
        return "[" + ",".join(repr(_number(x, "embedding")) for x in value) + "]"
    if not isinstance(value, str):
        raise FacesUnavailable("a face in the machine learning answer has no embedding")
    return value


def parse_answer(answer: Mapping[str, Any]) -> DetectedFaces:
    """Immich's ``FacialRecognitionResponse`` read as Immich's server reads it."""
    faces = answer.get(FACE_TASK)
    if not isinstance(faces, list):
        raise FacesUnavailable(f"the machine learning answer has no '{FACE_TASK}' list")
    parsed = []
    for face in faces:
        box = face.get("boundingBox") if isinstance(face, Mapping) else None
        if not isinstance(box, Mapping):
            raise FacesUnavailable("a face in the machine learning answer has no boundingBox")
        parsed.append(
            DetectedFace(
                x1=_int(_number(box.get("x1"), "x1")), y1=_int(_number(box.get("y1"), "y1")),
                x2=_int(_number(box.get("x2"), "x2")), y2=_int(_number(box.get("y2"), "y2")),
                score=_number(face.get("score", 0.0), "score"),
                embedding=_embedding(face.get("embedding")),
            )
        )
    return DetectedFaces(
        image_width=_int(_number(answer.get("imageWidth"), "imageWidth")),
        image_height=_int(_number(answer.get("imageHeight"), "imageHeight")),
        faces=tuple(parsed),
    )
