"""The pure-NumPy geometry of face detection: letterbox, anchors, decoding, NMS, alignment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from immich_trio.ml import face_geometry as geo


def test_letterbox_fills_the_limiting_side() -> None:
    wide = geo.letterbox(320, 240, 640, 640)
    assert (wide.new_width, wide.new_height, wide.scale) == (640, 480, 2.0)
    tall = geo.letterbox(300, 1000, 640, 640)
    assert (tall.new_width, tall.new_height) == (192, 640)
    assert tall.scale == pytest.approx(0.64)


def test_anchor_centres_are_cell_corners_repeated_per_anchor() -> None:
    centres = geo.anchor_centres(2, 3, 16)
    assert centres.tolist() == [
        [0, 0], [0, 0], [16, 0], [16, 0], [32, 0], [32, 0],
        [0, 16], [0, 16], [16, 16], [16, 16], [32, 16], [32, 16],
    ]


def _outputs(size: int, hits: dict[tuple[int, int], float]) -> list[np.ndarray]:
    """Detector outputs for a ``size`` input: ``hits`` maps (stride, anchor index) to a score."""
    scores, boxes, kps = [], [], []
    for stride in geo.STRIDES:
        n = (size // stride) ** 2 * 2
        s = np.zeros((n, 1), dtype=np.float32)
        for (hit_stride, index), score in hits.items():
            if hit_stride == stride:
                s[index] = score
        scores.append(s)
        boxes.append(np.tile(np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32), (n, 1)))
        kps.append(np.tile(np.arange(10, dtype=np.float32)[None] / 10, (n, 1)))
    return scores + boxes + kps


def test_decode_keeps_scores_over_the_threshold_with_boxes_and_keypoints() -> None:
    # anchor 2 * (row 1 * 4 cells + col 2) + 1 at stride 16 of a 64x64 input: corner (32, 16)
    index = 2 * (1 * 4 + 2) + 1
    found = geo.decode(_outputs(64, {(16, index): 0.9, (8, 0): 0.5}), 64, 64, 0.7)
    assert found.scores.tolist() == pytest.approx([0.9])
    assert found.boxes.tolist() == [[32 - 16, 16 - 32, 32 + 48, 16 + 64]]
    expected = [[32 + 16 * (2 * i) / 10, 16 + 16 * (2 * i + 1) / 10] for i in range(5)]
    np.testing.assert_allclose(found.keypoints[0], expected, rtol=1e-6)


def test_decode_accepts_a_batch_axis_and_refuses_the_wrong_shapes() -> None:
    outputs = [o[None] for o in _outputs(32, {(32, 1): 0.8})]
    assert len(geo.decode(outputs, 32, 32, 0.5).scores) == 1
    with pytest.raises(ValueError, match="9 outputs"):
        geo.decode(outputs[:6], 32, 32, 0.5)
    with pytest.raises(ValueError, match="anchors of a 64x64 input"):
        geo.decode(outputs, 64, 64, 0.5)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10], [6, 0, 16, 10]], dtype=np.float32
    )
    scores = np.array([0.8, 0.9, 0.7, 0.8, 0.75], dtype=np.float32)
    # box 1 wins; 0 and 3 overlap it > 0.4 (+1 pixel areas); box 4 by 60/182 = 0.33: kept
    assert geo.nms(boxes, scores).tolist() == [1, 4, 2]


def test_similarity_transform_recovers_rotation_scale_and_translation() -> None:
    angle, scale, shift = math.radians(30), 1.7, np.array([12.0, -5.0])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    source = geo.ARCFACE_TEMPLATE.astype(np.float64)
    target = source @ (scale * rotation).T + shift
    matrix = geo.similarity_transform(source.astype(np.float32), target.astype(np.float32))
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-5)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-4)


def test_alignment_carries_the_keypoints_onto_the_template() -> None:
    keypoints = (geo.ARCFACE_TEMPLATE * 0.5 + np.array([100.0, 40.0])).astype(np.float32)
    matrix = geo.alignment(keypoints)
    np.testing.assert_allclose(matrix, [[2.0, 0.0, -200.0], [0.0, 2.0, -80.0]], atol=1e-4)
    mapped = keypoints @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, geo.ARCFACE_TEMPLATE, atol=1e-4)
    # noisy keypoints: the least-squares fit, not an exact map, but still close
    noisy = keypoints + np.random.default_rng(1).normal(0, 0.2, keypoints.shape).astype(np.float32)
    np.testing.assert_allclose(geo.alignment(noisy)[:, :2], [[2.0, 0.0], [0.0, 2.0]], atol=0.05)


def test_keypoints_in_one_place_cannot_be_aligned() -> None:
    with pytest.raises(ValueError, match="one place"):
        geo.alignment(np.full((5, 2), 7.0, dtype=np.float32))
