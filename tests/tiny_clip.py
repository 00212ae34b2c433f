"""Tiny real CLIP models in Immich's layout, built with the ``onnx`` package for tests.

Visual: the mean of each (normalised) channel, times a fixed 3x512 matrix, L2-normalised in
the graph (as Immich's exports do). Textual: token embeddings mean-pooled over the context,
L2-normalised. The token "red" embeds along the direction a red image's channels give, and
likewise "green" and "blue", so a text query finds the image of its colour.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

MODEL = "ViT-Tiny__test"
DIM = 512
SIZE = 8
CONTEXT = 6
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
VOCAB = {"<pad>": 0, "<unk>": 1, "red": 2, "green": 3, "blue": 4, "photo": 5}


def projection() -> NDArray[np.float32]:
    rng = np.random.default_rng(7)
    w = rng.normal(0.0, 0.01, size=(3, DIM)).astype(np.float32)
    w[0, 0] += 1.0
    w[1, 1] += 1.0
    w[2, 2] += 1.0
    return w


def token_table() -> NDArray[np.float32]:
    rng = np.random.default_rng(11)
    table = rng.normal(0.0, 0.01, size=(len(VOCAB), DIM)).astype(np.float32)
    table[VOCAB["<pad>"]] = 0.0
    # each colour word along what its image gives: + own channel, - the others
    for word, channel in (("red", 0), ("green", 1), ("blue", 2)):
        table[VOCAB[word], :3] = -1.0
        table[VOCAB[word], channel] = 1.0
    return table


def _normalised_output(nodes: list[onnx.NodeProto], source: str) -> None:
    nodes.append(helper.make_node("ReduceL2", [source, "axes1"], ["norm"], keepdims=1))
    nodes.append(helper.make_node("Div", [source, "norm"], ["embedding"]))


def visual_model(path: Path) -> None:
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes23"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "w"], ["projected"]),
    ]
    _normalised_output(nodes, "projected")
    graph = helper.make_graph(
        nodes,
        "visual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, DIM])],
        initializer=[
            numpy_helper.from_array(projection(), "w"),
            numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes23"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes1"),
        ],
    )
    _save(graph, path)


def textual_model(path: Path, *, int64: bool = False) -> None:
    nodes = [
        helper.make_node("Gather", ["table", "text"], ["embedded"], axis=0),
        helper.make_node("ReduceMean", ["embedded", "axes1"], ["pooled"], keepdims=0),
    ]
    _normalised_output(nodes, "pooled")
    graph = helper.make_graph(
        nodes,
        "textual",
        [helper.make_tensor_value_info("text", TensorProto.INT64 if int64 else TensorProto.INT32, [1, CONTEXT])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, DIM])],
        initializer=[
            numpy_helper.from_array(token_table(), "table"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes1"),
        ],
    )
    _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path.as_posix())


def build_clip(cache: Path, name: str = MODEL, *, int64: bool = False, interpolation: str = "bicubic") -> Path:
    """Write a tiny CLIP model in Immich's layout under ``cache``; return its folder."""
    root = cache / "clip" / name
    visual_model(root / "visual" / "model.onnx")
    textual_model(root / "textual" / "model.onnx", int64=int64)
    (root / "config.json").write_text(json.dumps({"embed_dim": DIM, "text_cfg": {"context_length": CONTEXT}}))
    (root / "visual" / "preprocess_cfg.json").write_text(json.dumps(
        {"size": [SIZE, SIZE], "mode": "RGB", "mean": MEAN, "std": STD, "interpolation": interpolation,
         "resize_mode": "shortest"}
    ))
    tokenizer = Tokenizer(WordLevel(VOCAB, unk_token="<unk>"))
    tokenizer.pre_tokenizer = Whitespace()  # type: ignore[assignment]
    tokenizer.save((root / "textual" / "tokenizer.json").as_posix())
    (root / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    return root


def reference_visual(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
    """What the visual model gives for an already resized and cropped SIZE x SIZE RGB array."""
    x = (pixels.astype(np.float32) / 255.0 - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    v = x.mean(axis=(0, 1)) @ projection()
    return (v / np.linalg.norm(v)).astype(np.float32)


def reference_textual(words: list[str]) -> NDArray[np.float32]:
    ids = [VOCAB.get(w, VOCAB["<unk>"]) for w in words][:CONTEXT]
    ids += [VOCAB["<pad>"]] * (CONTEXT - len(ids))
    v = token_table()[ids].mean(axis=0)
    return (v / np.linalg.norm(v)).astype(np.float32)
