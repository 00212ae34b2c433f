"""Immich's model cache layout and the fetch of a missing model from Immich's model repository.

A folder of Immich's models works unchanged: ``<cache>/clip/<model>/config.json`` (open_clip's
model config: ``embed_dim``, ``text_cfg.context_length``...), ``visual/model.onnx`` with
``visual/preprocess_cfg.json`` (size, interpolation, mean, std, resize_mode) and
``textual/model.onnx`` with ``textual/tokenizer.json`` and ``textual/tokenizer_config.json``.
Immich's ML service downloads a missing model from the Hugging Face repository
``immich-app/<model>``; ``download_clip`` fetches the same files by their ``resolve`` URLs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import attrs
import httpx

log = logging.getLogger(__name__)

MODEL_ORGANIZATION = "immich-app"
HF_ENDPOINT = "https://huggingface.co"
CLIP_TASK = "clip"
VISUAL = "visual"
TEXTUAL = "textual"
CLIP_FILES = (
    "config.json",
    "visual/model.onnx",
    "visual/preprocess_cfg.json",
    "textual/model.onnx",
    "textual/tokenizer.json",
    "textual/tokenizer_config.json",
)
DOWNLOAD_TIMEOUT = 60.0
PROGRESS_STEP = 0.1  # a log line every 10 % of a file


class ModelError(Exception):
    """A model cannot be used: missing and not downloadable, or corrupt. ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_name(model_name: str) -> str:
    """Immich's folder name of a model: the part after a ``/`` (``immich-app/ViT-B-32__openai``)."""
    return model_name.split("/")[-1]


@attrs.frozen
class ClipPaths:
    """Where one CLIP model's files are in the cache."""

    root: Path

    @classmethod
    def of(cls, cache: Path, model_name: str) -> ClipPaths:
        return cls(cache / CLIP_TASK / clean_name(model_name))

    @property
    def model_config(self) -> Path:
        return self.root / "config.json"

    def model(self, kind: str) -> Path:
        return self.root / kind / "model.onnx"

    @property
    def preprocess_config(self) -> Path:
        return self.root / VISUAL / "preprocess_cfg.json"

    @property
    def tokenizer(self) -> Path:
        return self.root / TEXTUAL / "tokenizer.json"

    @property
    def tokenizer_config(self) -> Path:
        return self.root / TEXTUAL / "tokenizer_config.json"

    def missing(self, kind: str) -> list[str]:
        wanted = [f for f in CLIP_FILES if f == "config.json" or f.startswith(kind + "/")]
        return [f for f in wanted if not (self.root / f).is_file()]


def file_url(model_name: str, relative: str, *, endpoint: str = HF_ENDPOINT) -> str:
    return f"{endpoint}/{MODEL_ORGANIZATION}/{clean_name(model_name)}/resolve/main/{relative}"


Fetch = Callable[[str, Path], None]


def download_clip(paths: ClipPaths, model_name: str, kind: str, *, endpoint: str | None = None) -> None:
    """Fetch the missing files of ``kind`` (visual or textual) of a CLIP model (blocking: run in
    a thread). Each file lands in a ``.part`` file renamed into place when complete."""
    _download(paths.root, model_name, paths.missing(kind), f"clip model '{model_name}' ({kind})", endpoint)


def _download(root: Path, model_name: str, missing: list[str], what: str, endpoint: str | None) -> None:
    base = endpoint or os.environ.get("HF_ENDPOINT") or HF_ENDPOINT
    if not missing:
        return
    log.info("Downloading %s to %s. This may take a while.", what, root)
    for relative in missing:
        target = root / relative
        try:
            _fetch(file_url(model_name, relative, endpoint=base), target)
        except (httpx.HTTPError, OSError) as exc:
            raise ModelError(
                f"Model '{model_name}' is missing {relative} in {root} and could not be"
                f" downloaded from {base}: {exc}"
            ) from exc


def _fetch(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    with httpx.stream("GET", url, follow_redirects=True, timeout=DOWNLOAD_TIMEOUT) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length") or 0)
        done = 0
        next_report = PROGRESS_STEP
        with part.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                done += len(chunk)
                if total and done / total >= next_report:
                    log.info("downloading %s: %d%% of %d bytes", url, int(100 * done / total), total)
                    next_report += PROGRESS_STEP
            out.flush()
            os.fsync(out.fileno())
    part.replace(target)


FACE_TASK = "facial-recognition"
DETECTION = "detection"
RECOGNITION = "recognition"
FACE_FILES = ("detection/model.onnx", "recognition/model.onnx")


@attrs.frozen
class FacePaths:
    """Where one facial-recognition model's files are: ``<cache>/facial-recognition/<model>/
    {detection,recognition}/model.onnx`` (Immich's ``buffalo_l``: SCRFD and ArcFace)."""

    root: Path

    @classmethod
    def of(cls, cache: Path, model_name: str) -> FacePaths:
        return cls(cache / FACE_TASK / clean_name(model_name))

    def model(self, kind: str) -> Path:
        return self.root / kind / "model.onnx"

    def missing(self, kind: str) -> list[str]:
        return [f for f in FACE_FILES if f.startswith(kind + "/") and not (self.root / f).is_file()]


def download_faces(paths: FacePaths, model_name: str, kind: str, *, endpoint: str | None = None) -> None:
    """Fetch the missing ``kind`` (detection or recognition) of a facial-recognition model from
    Immich's model repository (blocking: run in a thread)."""
    _download(paths.root, model_name, paths.missing(kind), f"facial-recognition model '{model_name}' ({kind})", endpoint)
