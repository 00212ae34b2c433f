"""The geometry of face detection, in NumPy alone: the letterbox that fits an image into the
detector's input, anchor centres and the decoding of a RetinaFace/SCRFD-style detector's
per-stride outputs (insightface's convention, which Immich's ML service uses), greedy NMS, and
the 5-point similarity transform that aligns a face onto ArcFace's 112x112 template.

Conventions (insightface's ``RetinaFace`` and ``face_align``, as Immich runs them):
- anchors sit on the cell's top-left corner, ``(col, row) * stride``, each repeated once per
  anchor (2 per cell), in row-major cell order;
- box outputs are distances ``(left, top, right, bottom)`` and keypoint outputs offsets
  ``(dx, dy) * 5``, both in units of the stride;
- NMS is greedy by score with the +1 pixel area convention and an IoU threshold of 0.4;
- the similarity transform is Umeyama's least-squares estimate with scale (as scikit-image's
  ``SimilarityTransform.estimate``), from the keypoints to the template.
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]

STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
NMS_THRESHOLD = 0.4
ALIGNED_SIZE = 112
ARCFACE_TEMPLATE: Floats = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
"""Where the eyes, the nose tip and the mouth corners go on a 112x112 ArcFace crop."""


@attrs.frozen
class Letterbox:
    """An image of ``width``x``height`` resized to ``new_width``x``new_height`` at the top-left
    of the detector's ``input_width``x``input_height`` canvas (the rest is black)."""

    new_width: int
    new_height: int
    input_width: int
    input_height: int
    scale: float  # detector pixels per image pixel


def letterbox(width: int, height: int, input_width: int, input_height: int) -> Letterbox:
    """insightface's fit: keep the aspect ratio, fill the limiting side exactly."""
    image_ratio = height / width
    model_ratio = input_height / input_width
    if image_ratio > model_ratio:
        new_height = input_height
        new_width = int(new_height / image_ratio)
    else:
        new_width = input_width
        new_height = int(new_width * image_ratio)
    return Letterbox(
        new_width=max(new_width, 1), new_height=max(new_height, 1),
        input_width=input_width, input_height=input_height, scale=new_height / height,
    )


def anchor_centres(height: int, width: int, stride: int, anchors: int = ANCHORS_PER_CELL) -> Floats:
    """``(x, y)`` of every anchor of a ``height``x``width`` feature map, as the outputs list them."""
    ys, xs = np.mgrid[:height, :width]
    centres = np.stack([xs, ys], axis=-1).astype(np.float32).reshape(-1, 2) * stride
    return np.repeat(centres, anchors, axis=0) if anchors > 1 else centres


def distance_to_box(centres: Floats, distances: Floats) -> Floats:
    """``(x1, y1, x2, y2)`` from the anchor and its ``(left, top, right, bottom)`` distances."""
    return np.stack(
        [
            centres[:, 0] - distances[:, 0],
            centres[:, 1] - distances[:, 1],
            centres[:, 0] + distances[:, 2],
            centres[:, 1] + distances[:, 3],
        ],
        axis=-1,
    ).astype(np.float32)


def distance_to_keypoints(centres: Floats, offsets: Floats) -> Floats:
    """``(n, k, 2)`` keypoints from the anchor and its ``(dx, dy) * k`` offsets."""
    count = offsets.shape[1] // 2
    points = offsets.reshape(-1, count, 2) + centres[:, None, :]
    return points.astype(np.float32)


@attrs.frozen
class Candidates:
    """Detections over the threshold, before NMS: ``scores (n,)``, ``boxes (n, 4)``,
    ``keypoints (n, 5, 2)``, in detector pixels."""

    scores: Floats
    boxes: Floats
    keypoints: Floats


def _rows(output: NDArray[np.float32], columns: int) -> Floats:
    """One stride's output as ``(anchors, columns)``, whether or not it has a batch axis."""
    array = np.asarray(output, dtype=np.float32)
    if array.ndim == 3:
        array = array[0]
    return array.reshape(-1, columns)


def decode(
    outputs: list[NDArray[np.float32]], input_height: int, input_width: int, threshold: float
) -> Candidates:
    """The anchors scoring at least ``threshold`` across the strides. ``outputs`` holds the
    scores of every stride, then the box distances of every stride, then the keypoints."""
    levels = len(STRIDES)
    if len(outputs) != 3 * levels:
        raise ValueError(f"a face detector has {3 * levels} outputs (scores, boxes, keypoints per stride), not {len(outputs)}")
    scores, boxes, keypoints = [], [], []
    for level, stride in enumerate(STRIDES):
        level_scores = _rows(outputs[level], 1)[:, 0]
        distances = _rows(outputs[level + levels], 4) * stride
        offsets = _rows(outputs[level + 2 * levels], 10) * stride
        centres = anchor_centres(input_height // stride, input_width // stride, stride)
        if not (len(centres) == len(level_scores) == len(distances) == len(offsets)):
            raise ValueError(
                f"stride {stride}: {len(level_scores)} scores, {len(distances)} boxes and {len(offsets)}"
                f" keypoint rows for {len(centres)} anchors of a {input_width}x{input_height} input"
            )
        keep = np.where(level_scores >= threshold)[0]
        scores.append(level_scores[keep])
        boxes.append(distance_to_box(centres[keep], distances[keep]))
        keypoints.append(distance_to_keypoints(centres[keep], offsets[keep]))
    return Candidates(
        scores=np.concatenate(scores).astype(np.float32),
        boxes=np.concatenate(boxes).reshape(-1, 4),
        keypoints=np.concatenate(keypoints).reshape(-1, 5, 2),
    )


def nms(boxes: Floats, scores: Floats, threshold: float = NMS_THRESHOLD) -> NDArray[np.intp]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort(kind="stable")[::-1]
    keep: list[int] = []
    while order.size > 0:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = width * height
        iou = overlap / (areas[best] + areas[rest] - overlap)
        order = rest[iou <= threshold]
    return np.asarray(keep, dtype=np.intp)


def similarity_transform(source: Floats, target: Floats) -> NDArray[np.float64]:
    """The 2x3 matrix of the rotation, uniform scale and translation that best maps ``source``
    points onto ``target`` points in the least-squares sense (Umeyama, 1991)."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.ones(2)
    rank = int(np.linalg.matrix_rank(covariance))
    if rank == 0:
        raise ValueError("the keypoints are all in one place")
    if rank == 1:
        if np.linalg.det(u) * np.linalg.det(vt) < 0:
            signs[1] = -1.0
    elif np.linalg.det(covariance) < 0:
        signs[1] = -1.0
    rotation = u @ np.diag(signs) @ vt
    variance = src_c.var(axis=0).sum()
    scale = float(singular @ signs) / variance
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment(keypoints: Floats, size: int = ALIGNED_SIZE) -> NDArray[np.float64]:
    """The matrix that carries a face's 5 keypoints onto the ArcFace template of ``size``."""
    return similarity_transform(keypoints, ARCFACE_TEMPLATE * (size / ALIGNED_SIZE))
