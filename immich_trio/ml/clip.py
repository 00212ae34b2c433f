"""CLIP encoders on onnxruntime: preprocessing from the model's own config, as Immich's ML
service does it, so embeddings agree with Immich's for the same model.

Visual: decode to RGB; ``resize_mode`` ``shortest`` (default) scales the shortest side to
``size`` with the configured interpolation and crops the centre square, ``squash`` resizes to
the square; then to float in [0, 1], ``(x - mean) / std``, HWC → NCHW. A model whose input is
uint8 normalises inside the graph and takes the resized RGB pixels (NHWC) as they are.
Textual: whitespace collapsed (and canonicalised when ``text_cfg.tokenizer_kwargs.clean`` says
so), tokenized with the model's ``tokenizer.json``, padded with ``tokenizer_config.pad_token``
and truncated to ``text_cfg.context_length`` (77 unless said), in the integer type the model's
input wants. The embedding is the model's first output, unchanged: Immich's exported models
normalise in the graph and its service stores what they return.

Everything here blocks; callers run it in a thread.
"""

from __future__ import annotations

import io
import json
import string
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from PIL import Image
from tokenizers import Tokenizer

from immich_trio.ml.layout import TEXTUAL, VISUAL, ClipPaths, ModelError

Embedding = NDArray[np.float32]
_RESAMPLING = {r.name.lower(): r for r in Image.Resampling}
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_INT_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64}
DEFAULT_CONTEXT_LENGTH = 77


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise ModelError(f"{path} does not hold a JSON object")
    return value


def open_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(path.as_posix(), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for corrupt or invalid files
        raise ModelError(f"cannot load {path}: {exc}") from exc


def resize_shortest(image: Image.Image, size: int, resample: Image.Resampling) -> Image.Image:
    if image.width < image.height:
        return image.resize((size, int(image.height / image.width * size)), resample=resample)
    return image.resize((int(image.width / image.height * size), size), resample=resample)


def crop_centre(image: Image.Image, size: int) -> Image.Image:
    left = int(image.width / 2 - size / 2)
    upper = int(image.height / 2 - size / 2)
    return image.crop((left, upper, left + size, upper + size))


class VisualEncoder:
    """One loaded visual model and its preprocessing."""

    def __init__(self, paths: ClipPaths, *, threads: int = 1) -> None:
        cfg = _json(paths.preprocess_config)
        try:
            size = cfg["size"]
            self.size = int(size[0] if isinstance(size, list) else size)
            self.resample = _RESAMPLING[str(cfg["interpolation"]).lower()]
            self.mean = np.asarray(cfg["mean"], dtype=np.float32)
            self.std = np.asarray(cfg["std"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid preprocessing config {paths.preprocess_config}: {exc!r}") from exc
        self.resize_mode = str(cfg.get("resize_mode", "shortest"))
        if self.resize_mode not in ("shortest", "squash"):
            raise ModelError(f"unsupported resize_mode {self.resize_mode!r} in {paths.preprocess_config}")
        self.session = open_session(paths.model(VISUAL), threads)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.takes_pixels = model_input.type == "tensor(uint8)"

    def preprocess(self, image: Image.Image) -> NDArray[Any]:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        if self.resize_mode == "squash":
            rgb = rgb.resize((self.size, self.size), resample=self.resample)
        else:
            rgb = crop_centre(resize_shortest(rgb, self.size, self.resample), self.size)
        if self.takes_pixels:
            return np.asarray(rgb, dtype=np.uint8)[None]
        pixels = np.asarray(rgb, dtype=np.float32) / 255.0
        pixels = (pixels - self.mean) / self.std
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)

    def encode(self, image: Image.Image) -> Embedding:
        output = self.session.run(None, {self.input_name: self.preprocess(image)})[0]
        return np.asarray(output[0], dtype=np.float32)

    def encode_bytes(self, data: bytes) -> Embedding:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return self.encode(image)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ModelError(f"cannot decode the image: {exc}") from exc

    def encode_file(self, path: Path) -> Embedding:
        try:
            with Image.open(path) as image:
                image.load()
                return self.encode(image)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ModelError(f"cannot decode {path}: {exc}") from exc


class TextualEncoder:
    """One loaded textual model and its tokenizer."""

    def __init__(self, paths: ClipPaths, *, threads: int = 1) -> None:
        text_cfg = _json(paths.model_config).get("text_cfg") or {}
        tokenizer_cfg = _json(paths.tokenizer_config)
        context_length = int(text_cfg.get("context_length", DEFAULT_CONTEXT_LENGTH))
        kwargs = text_cfg.get("tokenizer_kwargs")
        self.canonicalize = isinstance(kwargs, dict) and kwargs.get("clean") == "canonicalize"
        try:
            self.tokenizer = Tokenizer.from_file(paths.tokenizer.as_posix())
            pad_token = str(tokenizer_cfg["pad_token"])
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise ModelError(f"invalid tokenizer in {paths.tokenizer.parent}: {exc!r}") from exc
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ModelError(f"pad token {pad_token!r} is not in {paths.tokenizer}")
        self.tokenizer.enable_padding(length=context_length, pad_token=pad_token, pad_id=pad_id)
        self.tokenizer.enable_truncation(max_length=context_length)
        self.session = open_session(paths.model(TEXTUAL), threads)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.dtype = _INT_TYPES.get(model_input.type, np.int32)

    def tokenize(self, text: str) -> NDArray[Any]:
        text = " ".join(text.split())
        if self.canonicalize:
            text = text.translate(_PUNCTUATION).lower()
        return np.asarray([self.tokenizer.encode(text).ids], dtype=self.dtype)

    def encode(self, text: str) -> Embedding:
        output = self.session.run(None, {self.input_name: self.tokenize(text)})[0]
        return np.asarray(output[0], dtype=np.float32)


def serialize(embedding: Embedding) -> str:
    """The embedding as Immich's ML service answers it and pgvector reads it: ``[x,y,...]``."""
    return "[" + ",".join(repr(float(x)) for x in embedding.tolist()) + "]"
