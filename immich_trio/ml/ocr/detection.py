"""Text detection: PP-OCR's DB (Differentiable Binarization) model and its post-processing.

As Immich's ML service: an image under 32 pixels on a side has no text; otherwise it is scaled
down (never up) so that its shorter side is at most ``maxResolution`` (736), each side rounded
to a multiple of 32 (Lanczos), BGR, normalised as Immich normalises it: ``(value - 0.5) / 127.5``
(PP-OCR's mean of 0.5 taken from the 0-255 values, so [0, 2] where RapidOCR feeds [-1, 1]; the
same input gives the same boxes as Immich's service). The model answers a text probability
per pixel; pixels above 0.3 form the bitmap (dilated 2x2), each contour's minimum-area
rectangle scores the mean probability inside it ("fast" mode), those under ``minScore`` go,
and the rest grow by ``area x 1.6 / (w + h)`` on each side pair (the
DB "unclip": the shrunk text kernel back to the text's extent). Boxes come back in image
pixels, corners clockwise from the top-left, in reading order (lines 10 px apart, then x).

Everything here blocks; callers run it in a thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from immich_trio.ml.clip import open_session
from immich_trio.ml.layout import ModelError

Boxes = NDArray[np.float32]  # n x 4 corners x (x, y)
Scores = NDArray[np.float32]

BINARY_THRESHOLD = 0.3
MAX_CANDIDATES = 1000
UNCLIP_RATIO = 1.6
MIN_SIZE = 3
MIN_SIDE = 32  # Immich: no text in a smaller image
STRIDE = 32  # the model's downsampling: input sides are multiples of it
LINE_GAP = 10  # boxes whose tops are closer are on one line when sorting
DEFAULT_MAX_RESOLUTION = 736
DEFAULT_MIN_SCORE = 0.5


@attrs.frozen
class Detected:
    boxes: Boxes
    scores: Scores

    @classmethod
    def empty(cls) -> Detected:
        return cls(np.zeros((0, 4, 2), dtype=np.float32), np.zeros(0, dtype=np.float32))


def scaled_size(width: int, height: int, max_resolution: int) -> tuple[int, int]:
    """The model's input size: the shorter side at most ``max_resolution``, both sides
    rounded to the stride (at least one stride)."""
    ratio = min(float(max_resolution) / min(width, height), 1.0)
    w = int(round(int(width * ratio) / STRIDE) * STRIDE)
    h = int(round(int(height * ratio) / STRIDE) * STRIDE)
    return max(w, STRIDE), max(h, STRIDE)


def preprocess(image: Image.Image, max_resolution: int) -> NDArray[np.float32]:
    size = scaled_size(image.width, image.height, max_resolution)
    resized = image.resize(size, resample=Image.Resampling.LANCZOS)
    pixels = np.asarray(resized, dtype=np.float32)[:, :, ::-1]  # RGB → BGR
    normalised = (pixels - np.float32(0.5)) / np.float32(127.5)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def order_clockwise(boxes: Boxes) -> Boxes:
    """Each box's corners as top-left, top-right, bottom-right, bottom-left."""
    out = np.empty_like(boxes)
    for i, pts in enumerate(boxes):
        by_x = pts[np.argsort(pts[:, 0], kind="stable")]
        left, right = by_x[:2], by_x[2:]
        tl, bl = (left[0], left[1]) if left[0, 1] <= left[1, 1] else (left[1], left[0])
        tr, br = (right[0], right[1]) if right[0, 1] <= right[1, 1] else (right[1], right[0])
        out[i] = (tl, tr, br, bl)
    return out


def _box_score(probs: NDArray[np.float32], corners: NDArray[np.float32]) -> float:
    """Mean probability inside the polygon ``corners`` (bitmap coordinates)."""
    h, w = probs.shape
    xs, ys = corners[:, 0], corners[:, 1]
    xmin = min(max(math.floor(xs.min()), 0), w - 1)
    xmax = min(max(math.ceil(xs.max()), 0), w - 1)
    ymin = min(max(math.floor(ys.min()), 0), h - 1)
    ymax = min(max(math.ceil(ys.max()), 0), h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    shifted = (corners - np.array([xmin, ymin], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted.reshape(-1, 1, 2)], 1)
    return float(cv2.mean(probs[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def boxes_from_probabilities(
    probs: NDArray[np.float32], width: int, height: int, min_score: float
) -> Detected:
    """DB post-processing of one probability map into boxes on a ``width`` x ``height`` image."""
    bitmap: NDArray[Any] = cv2.dilate(
        (probs > BINARY_THRESHOLD).astype(np.uint8), np.ones((2, 2), dtype=np.uint8)
    )
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    map_h, map_w = bitmap.shape
    boxes: list[NDArray[np.float32]] = []
    scores: list[float] = []
    for contour in list(contours)[:MAX_CANDIDATES]:
        centre, (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < MIN_SIZE:
            continue
        score = _box_score(probs, cv2.boxPoints((centre, (rw, rh), angle)).astype(np.float32))
        if score < min_score:
            continue
        grow = rw * rh * UNCLIP_RATIO / (rw + rh)
        if min(rw, rh) + grow < MIN_SIZE + 2:
            continue
        corners = cv2.boxPoints((centre, (rw + grow, rh + grow), angle)).astype(np.float32)
        corners *= np.array([width / map_w, height / map_h], dtype=np.float32)
        np.clip(np.round(corners), 0, [width, height], out=corners)
        boxes.append(corners)
        scores.append(score)
    if not boxes:
        return Detected.empty()
    ordered = order_clockwise(np.stack(boxes))
    np.clip(ordered, 0, [width - 1, height - 1], out=ordered)
    top = np.linalg.norm(ordered[:, 1] - ordered[:, 0], axis=1)
    left = np.linalg.norm(ordered[:, 3] - ordered[:, 0], axis=1)
    keep = (top.astype(np.int32) > MIN_SIZE) & (left.astype(np.int32) > MIN_SIZE)
    return Detected(ordered[keep], np.asarray(scores, dtype=np.float32)[keep])


def reading_order(detected: Detected) -> Detected:
    """Top to bottom by line (tops closer than ``LINE_GAP`` share one), then left to right."""
    boxes = detected.boxes
    if len(boxes) == 0:
        return detected
    by_y = np.argsort(boxes[:, 0, 1], kind="stable")
    tops = boxes[by_y, 0, 1]
    lines = np.zeros(len(boxes), dtype=np.int64)
    lines[1:] = np.cumsum(np.abs(np.diff(tops)) >= LINE_GAP)
    key = lines * 1e6 + boxes[by_y, 0, 0]
    order = by_y[np.argsort(key, kind="stable")]
    return Detected(boxes[order], detected.scores[order])


class TextDetector:
    """One loaded detection model."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self._session = open_session(path, threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{path} is not a text detection model (one NCHW image input)")
        self._input = inputs[0].name

    def detect(self, image: Image.Image, *, min_score: float, max_resolution: int) -> Detected:
        if image.width < MIN_SIDE or image.height < MIN_SIDE:
            return Detected.empty()
        outputs: list[Any] = self._session.run(None, {self._input: preprocess(image, max_resolution)})
        probs = np.asarray(outputs[0], dtype=np.float32)
        if probs.ndim != 4:
            raise ModelError("the text detection model answered no probability map")
        found = boxes_from_probabilities(probs[0, 0], image.width, image.height, min_score)
        return reading_order(found)
