"""Tiny real facial-recognition models in Immich's layout, built with the ``onnx`` package.

Detector (``facial-recognition/<model>/detection/model.onnx``): input ``input.1``
``[1, 3, ?, ?]`` like buffalo_l's SCRFD, nine outputs ``[N, 1]``/``[N, 4]``/``[N, 10]`` for
strides 8, 16, 32 (scores, box distances, keypoint offsets; two anchors per cell). The stride-32
score of a cell is the brightness of its 32x32 block, ``(mean + 1) / 2`` of the normalised
input, so a white block on black scores ~1 and black ~0; strides 8 and 16 score 0. Every anchor
predicts the same box distances ``DISTANCES`` and keypoint offsets: a white square filling one
stride-32 cell of the detector's input is one face with a known box and keypoints.
Recognizer (``recognition/model.onnx``): input ``input.1`` ``[None, 3, 112, 112]``, output
``683`` ``[None, 512]``: the 4x4 grid of 28x28 block means of each channel, times a fixed
48x512 matrix, L2-normalised; so the embedding depends on where the alignment put the pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from immich_trio.ml.face_geometry import ARCFACE_TEMPLATE

MODEL = "buffalo_tiny"
DIM = 512
# The test image and the face in it: 320x240 fits the 640x640 input at scale 2, so the white
# square at (160, 96)-(176, 112) fills the stride-32 cell at column 10, row 6, whose anchor
# is (320, 192) in the detector's input.
IMAGE_SIZE = (320, 240)
FACE_SQUARE = (160, 96, 176, 112)
ANCHOR = (320.0, 192.0)
SCALE = 2.0
DISTANCES = (0.25, 0.5, 0.75, 1.0)  # left, top, right, bottom in strides
# The keypoints the detector reports, in image pixels: ArcFace's template shrunk 4 times and
# moved to (150, 80), so the alignment is known: x4 and back by (600, 320).
KEYPOINT_SCALE = 0.25
KEYPOINT_ORIGIN = (150.0, 80.0)
EXPECTED_BOX = (156.0, 88.0, 172.0, 112.0)


def expected_keypoints(anchor: tuple[float, float] = ANCHOR) -> NDArray[np.float32]:
    """The keypoints of the face whose stride-32 anchor is ``anchor`` (detector pixels), in
    image pixels."""
    shift = (np.array(anchor) - np.array(ANCHOR)) / SCALE
    return (ARCFACE_TEMPLATE * KEYPOINT_SCALE + np.array(KEYPOINT_ORIGIN) + shift).astype(np.float32)


def _offsets() -> NDArray[np.float32]:
    points = expected_keypoints() * SCALE - np.array(ANCHOR, dtype=np.float32)
    return (points / 32.0).reshape(1, 10).astype(np.float32)


def projection() -> NDArray[np.float32]:
    return np.random.default_rng(5).normal(0.0, 1.0, size=(48, DIM)).astype(np.float32)


def _const(name: str, value: NDArray[np.generic]) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def detector(path: Path, *, fixed: tuple[int, int] | None = None) -> None:
    nodes = [helper.make_node("ReduceMean", ["input.1", "axis1"], ["grey"], keepdims=1)]
    outputs: dict[str, list[str]] = {"score": [], "bbox": [], "kps": []}
    for stride in (8, 16, 32):
        s = str(stride)
        nodes += [
            helper.make_node("AveragePool", ["grey"], [f"pool{s}"], kernel_shape=[stride, stride], strides=[stride, stride]),
            helper.make_node("Add", [f"pool{s}", "one"], [f"shift{s}"]),
            helper.make_node("Mul", [f"shift{s}", "half" if stride == 32 else "zero"], [f"bright{s}"]),
            helper.make_node("Transpose", [f"bright{s}"], [f"cells{s}"], perm=[0, 2, 3, 1]),
            helper.make_node("Concat", [f"cells{s}", f"cells{s}"], [f"anchors{s}"], axis=3),
            helper.make_node("Reshape", [f"anchors{s}", "column"], [f"score_{s}"]),
            helper.make_node("Mul", [f"score_{s}", "zeros4"], [f"z4_{s}"]),
            helper.make_node("Add", [f"z4_{s}", "distances"], [f"bbox_{s}"]),
            helper.make_node("Mul", [f"score_{s}", "zeros10"], [f"z10_{s}"]),
            helper.make_node("Add", [f"z10_{s}", "offsets"], [f"kps_{s}"]),
        ]
        for kind in outputs:
            outputs[kind].append(f"{kind}_{s}")
    height, width = fixed if fixed is not None else ("?", "?")
    names = outputs["score"] + outputs["bbox"] + outputs["kps"]
    columns = {"score": 1, "bbox": 4, "kps": 10}
    graph = helper.make_graph(
        nodes,
        "detection",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, height, width])],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, [f"anchors{n.split('_')[1]}", columns[n.split("_")[0]]])
            for n in names
        ],
        initializer=[
            _const("axis1", np.array([1], dtype=np.int64)),
            _const("one", np.array(1.0, dtype=np.float32)),
            _const("half", np.array(0.5, dtype=np.float32)),
            _const("zero", np.array(0.0, dtype=np.float32)),
            _const("column", np.array([-1, 1], dtype=np.int64)),
            _const("zeros4", np.zeros((1, 4), dtype=np.float32)),
            _const("zeros10", np.zeros((1, 10), dtype=np.float32)),
            _const("distances", np.array([DISTANCES], dtype=np.float32)),
            _const("offsets", _offsets()),
        ],
    )
    _save(graph, path)


def recognizer(path: Path, *, batch: int | str = "None") -> None:
    nodes = [
        helper.make_node("AveragePool", ["input.1"], ["grid"], kernel_shape=[28, 28], strides=[28, 28]),
        helper.make_node("Flatten", ["grid"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["projected"]),
        helper.make_node("ReduceL2", ["projected", "axis1"], ["norm"], keepdims=1),
        helper.make_node("Div", ["projected", "norm"], ["683"]),
    ]
    graph = helper.make_graph(
        nodes,
        "recognition",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, DIM])],
        initializer=[_const("w", projection()), _const("axis1", np.array([1], dtype=np.int64))],
    )
    _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path.as_posix())


def build_faces(cache: Path, name: str = MODEL, *, batch: int | str = "None") -> Path:
    """Write a tiny facial-recognition model in Immich's layout under ``cache``; its folder."""
    root = cache / "facial-recognition" / name
    detector(root / "detection" / "model.onnx")
    recognizer(root / "recognition" / "model.onnx", batch=batch)
    return root


def face_image(squares: tuple[tuple[int, int, int, int], ...] = (FACE_SQUARE,)) -> NDArray[np.uint8]:
    """A 320x240 RGB test image: black, white squares (the faces), and colour marks inside the
    first face's aligned crop, so its embedding depends on the alignment."""
    width, height = IMAGE_SIZE
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for x1, y1, x2, y2 in squares:
        image[y1:y2, x1:x2] = 255
    image[80:88, 150:158] = (255, 0, 0)
    image[100:106, 170:178] = (0, 0, 255)
    return image


def reference_embedding(bgr: NDArray[np.uint8], *, origin: tuple[float, float] = KEYPOINT_ORIGIN) -> NDArray[np.float32]:
    """What the recognizer gives for the face aligned by the known transform (x4, then back by
    4 * ``origin``), computed with NumPy from the crop."""
    matrix = np.array([[4.0, 0.0, -4.0 * origin[0]], [0.0, 4.0, -4.0 * origin[1]]])
    crop = cv2.warpAffine(bgr, matrix, (112, 112), borderValue=0.0)
    x = (crop[:, :, ::-1].astype(np.float32) - 127.5) / 127.5
    grid = x.reshape(4, 28, 4, 28, 3).mean(axis=(1, 3)).transpose(2, 0, 1).reshape(48)
    v = grid @ projection()
    return (v / np.linalg.norm(v)).astype(np.float32)
