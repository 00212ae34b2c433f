"""Text recognition: PP-OCR's CTC line recogniser on the detected boxes.

As Immich's ML service: each box is cut out of the image by a perspective transform onto an
upright rectangle as wide as its longer horizontal edge and as tall as its longer vertical one
(bicubic); a crop at least 1.5 times taller than wide is turned a quarter (vertical text). The
crops, sorted by aspect ratio, go in batches of six: each resized to 48 pixels high keeping its
ratio, BGR, normalised to [-1, 1], right-padded with zeros to the batch's widest (at least
320). CTC greedy decoding: the best class per step, repeats merged, blanks (class 0) dropped;
the text score is the mean probability of the kept steps. The classes are the blank, the
model's dictionary and a space, in that order.

Everything here blocks; callers run it in a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from immich_trio.ml.clip import open_session
from immich_trio.ml.layout import ModelError
from immich_trio.ml.ocr.detection import Boxes

HEIGHT = 48
MIN_WIDTH = 320
BATCH = 6
UPRIGHT_RATIO = 1.5
DEFAULT_MIN_SCORE = 0.8


def charset_of(path: Path, charset_file: Path, metadata: dict[str, str]) -> list[str]:
    """The model's dictionary: its ``character`` metadata, else ``charset.txt`` beside it."""
    character = metadata.get("character")
    if character is not None:
        return character.splitlines()
    try:
        return charset_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(
            f"{path} carries no character dictionary and {charset_file} cannot be read: {exc}"
        ) from exc


def perspective_coefficients(box: NDArray[np.float32], width: int, height: int) -> tuple[float, ...]:
    """PIL's 8 perspective coefficients taking the ``width`` x ``height`` crop's corners
    (clockwise from the origin) to ``box``'s corners in the image."""
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    a = np.zeros((8, 8), dtype=np.float64)
    b = np.zeros(8, dtype=np.float64)
    for i, ((x, y), (u, v)) in enumerate(zip(src, box.astype(np.float64), strict=True)):
        a[2 * i] = (x, y, 1, 0, 0, 0, -u * x, -u * y)
        a[2 * i + 1] = (0, 0, 0, x, y, 1, -v * x, -v * y)
        b[2 * i], b[2 * i + 1] = u, v
    return tuple(float(c) for c in np.linalg.solve(a, b))


def crops(image: Image.Image, boxes: Boxes) -> list[NDArray[np.uint8]]:
    """Each box cut out upright, as RGB pixels."""
    out: list[NDArray[np.uint8]] = []
    for box in boxes:
        width = int(max(np.linalg.norm(box[1] - box[0]), np.linalg.norm(box[2] - box[3])))
        height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
        width, height = max(width, 1), max(height, 1)
        try:
            coefficients = perspective_coefficients(box, width, height)
        except np.linalg.LinAlgError:  # a degenerate box: nothing to read
            coefficients = (1.0, 0.0, float(box[0, 0]), 0.0, 1.0, float(box[0, 1]), 0.0, 0.0)
        crop = image.transform(
            (width, height), Image.Transform.PERSPECTIVE, coefficients, resample=Image.Resampling.BICUBIC
        )
        if crop.height >= crop.width * UPRIGHT_RATIO:
            crop = crop.rotate(90, expand=True)
        out.append(np.asarray(crop, dtype=np.uint8))
    return out


def batch_input(pieces: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
    """One batch: each crop 48 px high, BGR in [-1, 1], zero-padded to the widest."""
    ratios = [p.shape[1] / p.shape[0] for p in pieces]
    width = int(HEIGHT * max(MIN_WIDTH / HEIGHT, *ratios))
    batch = np.zeros((len(pieces), 3, HEIGHT, width), dtype=np.float32)
    for i, (piece, ratio) in enumerate(zip(pieces, ratios, strict=True)):
        resized_w = max(1, min(width, math.ceil(HEIGHT * ratio)))
        resized = cv2.resize(piece, (resized_w, HEIGHT)).astype(np.float32)
        batch[i, :, :, :resized_w] = resized.transpose(2, 0, 1)[::-1] / np.float32(127.5) - np.float32(1.0)
    return batch


def ctc_decode(probs: NDArray[np.float32], charset: Sequence[str]) -> tuple[list[str], list[float]]:
    """Greedy CTC over ``probs`` (batch x steps x classes, softmax probabilities)."""
    indices = probs.argmax(axis=2)
    best = np.take_along_axis(probs, indices[:, :, None], axis=2)[:, :, 0]
    texts: list[str] = []
    scores: list[float] = []
    for row, confidence in zip(indices, best, strict=True):
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != 0
        texts.append("".join(charset[i] if i < len(charset) else "" for i in row[keep]))
        scores.append(float(confidence[keep].mean()) if keep.any() else 0.0)
    return texts, scores


class TextRecognizer:
    """One loaded recognition model and its dictionary."""

    def __init__(self, path: Path, charset_file: Path, *, threads: int = 1) -> None:
        self._session = open_session(path, threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{path} is not a text recognition model (one NCHW image input)")
        self._input = inputs[0].name
        metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.charset = ["", *charset_of(path, charset_file, metadata), " "]

    def recognise(self, image: Image.Image, boxes: Boxes) -> tuple[list[str], list[float]]:
        """The text and its score for each box, in the boxes' order."""
        pieces = crops(image, boxes)
        texts = [""] * len(pieces)
        scores = [0.0] * len(pieces)
        order = np.argsort([p.shape[1] / p.shape[0] for p in pieces], kind="stable")
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            outputs: list[Any] = self._session.run(None, {self._input: batch_input([pieces[i] for i in chunk])})
            probs = np.asarray(outputs[0], dtype=np.float32)
            if probs.ndim != 3 or probs.shape[2] != len(self.charset):
                raise ModelError(
                    f"the text recognition model answers {probs.shape[-1]} classes,"
                    f" its dictionary holds {len(self.charset)}"
                )
            chunk_texts, chunk_scores = ctc_decode(probs, self.charset)
            for index, text, score in zip(chunk, chunk_texts, chunk_scores, strict=True):
                texts[index], scores[index] = text, score
        return texts, scores
