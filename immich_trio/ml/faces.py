"""Face detection and recognition on onnxruntime, preprocessed as Immich's ML service does it
(insightface's ``RetinaFace`` and ``ArcFaceONNX`` on an image decoded by Pillow to BGR).

Detection: the image is resized (OpenCV, bilinear) into the detector's input, 640x640 unless the
model fixes its own size, keeping the aspect ratio, at the top-left of a black canvas; the
channels are swapped to RGB and normalised ``(x - 127.5) / 128``; the nine outputs (scores,
box distances, keypoint offsets for strides 8, 16, 32) are decoded, kept at ``score ≥
minScore``, scaled back to image pixels and thinned by NMS (IoU 0.4). Boxes are rounded as
Immich's service rounds them.
Recognition: each face is warped (OpenCV, bilinear, black border) by the similarity transform
of its 5 keypoints onto the 112x112 ArcFace template, swapped to RGB, normalised
``(x - 127.5) / 127.5`` and embedded; the embedding is the model's output as it comes (Immich
stores it unchanged: cosine distance does not care about its length). A model that takes a
batch embeds all faces in one run, one with a fixed batch of 1 embeds them one by one.

Everything here blocks; callers run it in a thread.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import attrs
import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from PIL import Image

from immich_trio.ml import face_geometry as geo
from immich_trio.ml.clip import open_session
from immich_trio.ml.layout import ModelError

DETECTION_SIZE = 640
DETECTION_MEAN = 127.5
DETECTION_STD = 128.0
RECOGNITION_MEAN = 127.5
RECOGNITION_STD = 127.5


@attrs.frozen(kw_only=True)
class Face:
    """One detected face: the box in image pixels, the detector's score, the 5 keypoints and
    the recognition embedding."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: NDArray[np.float32]
    embedding: NDArray[np.float32]


@attrs.frozen(kw_only=True)
class Detection:
    """What the detector found in one image of ``width``x``height``."""

    width: int
    height: int
    boxes: NDArray[np.float32]  # (n, 4), rounded
    scores: NDArray[np.float32]  # (n,)
    keypoints: NDArray[np.float32]  # (n, 5, 2)


def _run(session: ort.InferenceSession, names: list[str] | None, feed: dict[str, Any]) -> list[Any]:
    try:
        return list(session.run(names, feed))
    except Exception as exc:  # onnxruntime raises its own classes for a model that cannot run this input
        raise ModelError(f"the face model cannot run: {exc}") from exc


def decode_bgr(data: bytes) -> NDArray[np.uint8]:
    """The image as Immich's service decodes it: Pillow (no EXIF rotation), RGB, to BGR."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            return np.asarray(cv2.cvtColor(np.asarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ModelError(f"cannot decode the image: {exc}") from exc


class FaceDetector:
    """One loaded detection model."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self.session = open_session(path, threads)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.output_names = [o.name for o in self.session.get_outputs()]
        if len(self.output_names) != 3 * len(geo.STRIDES):
            raise ModelError(
                f"{path} has {len(self.output_names)} outputs; a face detector with keypoints has"
                f" {3 * len(geo.STRIDES)} (scores, boxes and keypoints for strides 8, 16, 32)"
            )
        shape = model_input.shape
        fixed = len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int)
        # insightface takes the model's own size when it has one, else the size it is given
        self.input_height = int(shape[2]) if fixed else DETECTION_SIZE
        self.input_width = int(shape[3]) if fixed else DETECTION_SIZE

    def blob(self, image: NDArray[np.uint8]) -> tuple[NDArray[np.float32], geo.Letterbox]:
        """The detector's input for a BGR image, and the letterbox it was fitted into."""
        height, width = image.shape[:2]
        fit = geo.letterbox(width, height, self.input_width, self.input_height)
        canvas = np.zeros((self.input_height, self.input_width, 3), dtype=np.uint8)
        canvas[: fit.new_height, : fit.new_width] = cv2.resize(image, (fit.new_width, fit.new_height))
        mean = (DETECTION_MEAN,) * 3
        size = (self.input_width, self.input_height)
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / DETECTION_STD, size, mean, swapRB=True)
        return np.asarray(blob, dtype=np.float32), fit

    def detect(self, image: NDArray[np.uint8], min_score: float) -> Detection:
        blob, fit = self.blob(image)
        outputs = _run(self.session, self.output_names, {self.input_name: blob})
        try:
            found = geo.decode(list(outputs), self.input_height, self.input_width, min_score)
        except ValueError as exc:
            raise ModelError(f"unexpected face detector output: {exc}") from exc
        boxes = found.boxes / fit.scale
        keypoints = found.keypoints / fit.scale
        keep = geo.nms(boxes, found.scores)
        return Detection(
            width=int(image.shape[1]),
            height=int(image.shape[0]),
            boxes=np.round(boxes[keep]).astype(np.float32).reshape(-1, 4),
            scores=found.scores[keep],
            keypoints=keypoints[keep].astype(np.float32).reshape(-1, 5, 2),
        )


class FaceRecognizer:
    """One loaded recognition (embedding) model."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self.session = open_session(path, threads)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        shape = model_input.shape
        self.size = int(shape[2]) if len(shape) == 4 and isinstance(shape[2], int) else geo.ALIGNED_SIZE
        self.batched = not (len(shape) == 4 and shape[0] == 1)

    def crop(self, image: NDArray[np.uint8], keypoints: NDArray[np.float32]) -> NDArray[np.uint8]:
        """The face aligned onto the template: a ``size``x``size`` BGR crop."""
        matrix = geo.alignment(keypoints, self.size)
        crop = cv2.warpAffine(image, matrix, (self.size, self.size), borderValue=0.0)
        return np.asarray(crop, dtype=np.uint8)

    def blob(self, crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        mean = (RECOGNITION_MEAN,) * 3
        size = (self.size, self.size)
        blob = cv2.dnn.blobFromImages(crops, 1.0 / RECOGNITION_STD, size, mean, swapRB=True)
        return np.asarray(blob, dtype=np.float32)

    def embed(self, image: NDArray[np.uint8], keypoints: NDArray[np.float32]) -> NDArray[np.float32]:
        """``(n, d)`` embeddings of the faces with ``keypoints (n, 5, 2)``."""
        if len(keypoints) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        blob = self.blob([self.crop(image, kps) for kps in keypoints])
        if self.batched:
            return self._run(blob)
        return np.concatenate([self._run(blob[i : i + 1]) for i in range(len(blob))])

    def _run(self, blob: NDArray[np.float32]) -> NDArray[np.float32]:
        output = np.asarray(_run(self.session, None, {self.input_name: blob})[0], dtype=np.float32)
        return output.reshape(len(blob), -1)


@attrs.frozen
class FaceModels:
    """A detector and its recognizer: the whole of Immich's ``facial-recognition`` task."""

    detector: FaceDetector
    recognizer: FaceRecognizer

    def faces(self, image: NDArray[np.uint8], min_score: float) -> tuple[Detection, list[Face]]:
        found = self.detector.detect(image, min_score)
        embeddings = self.recognizer.embed(image, found.keypoints)
        faces = [
            Face(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(score),
                keypoints=kps,
                embedding=embedding,
            )
            for b, score, kps, embedding in zip(found.boxes, found.scores, found.keypoints, embeddings, strict=True)
        ]
        return found, faces

    def faces_in_file(self, path: Path, min_score: float) -> tuple[Detection, list[Face]]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc
        return self.faces(decode_bgr(data), min_score)
