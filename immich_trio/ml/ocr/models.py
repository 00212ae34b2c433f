"""Where an OCR model's files are in Immich's model cache, and the fetch of a missing one.

Immich's layout: ``<cache>/ocr/<model>/detection/model.onnx`` and
``<cache>/ocr/<model>/recognition/model.onnx``. A language-specific model is named
``<LANG>__<model>`` (``EN__PP-OCRv5_mobile``): its recognition model is under that name, while
detection, the same for every language, is the base model's (``ocr/PP-OCRv5_mobile/detection``),
as Immich's ML service keys them. The recognition model's character dictionary
is its ONNX metadata entry ``character`` (one character a line, as PP-OCR exports carry it);
a model without it has ``recognition/charset.txt`` beside it.

A missing file is fetched as Immich's ML service fetches it, through RapidOCR's model table:
PP-OCRv5 detection (``mobile`` when the name says so, else ``server``) and the recognition
model of the name's language (``EN__`` → ``en``; none → ``ch``), from RapidOCR's model
repository, checked against the table's SHA-256. ``OCR_MODEL_ENDPOINT`` replaces the
repository's address (a mirror).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import attrs
import httpx

from immich_trio.ml.layout import ModelError, _fetch, clean_name

log = logging.getLogger(__name__)

OCR_TASK = "ocr"
DETECTION = "detection"
RECOGNITION = "recognition"
MODEL_FILE = "model.onnx"
CHARSET_FILE = "charset.txt"
ENDPOINT_ENV = "OCR_MODEL_ENDPOINT"
RAPIDOCR_MODELS = "https://www.modelscope.cn/models/RapidAI/RapidOCR/resolve/v3.10.0/onnx/PP-OCRv5"
# RapidOCR's PP-OCRv5 ONNX files (its default_models.yaml): path under the repository, SHA-256
DETECTION_FILES: dict[str, tuple[str, str]] = {
    "mobile": ("det/ch_PP-OCRv5_det_mobile.onnx", "4d97c44a20d30a81aad087d6a396b08f786c4635742afc391f6621f5c6ae78ae"),
    "server": ("det/ch_PP-OCRv5_det_server.onnx", "0f8846b1d4bba223a2a2f9d9b44022fbc22cc019051a602b41a7fda9667e4cad"),
}
RECOGNITION_FILES: dict[tuple[str, str], tuple[str, str]] = {
    (lang, size): (f"rec/{lang}_PP-OCRv5_rec_{size}.onnx", digest)
    for (lang, size), digest in {
        ("ch", "mobile"): "5825fc7ebf84ae7a412be049820b4d86d77620f204a041697b0494669b1742c5",
        ("ch", "server"): "e09385400eaaaef34ceff54aeb7c4f0f1fe014c27fa8b9905d4709b65746562a",
        ("korean", "mobile"): "cd6e2ea50f6943ca7271eb8c56a877a5a90720b7047fe9c41a2e541a25773c9b",
        ("latin", "mobile"): "b20bd37c168a570f583afbc8cd7925603890efbcdc000a59e22c269d160b5f5a",
        ("eslav", "mobile"): "08705d6721849b1347d26187f15a5e362c431963a2a62bfff4feac578c489aab",
        ("en", "mobile"): "c3461add59bb4323ecba96a492ab75e06dda42467c9e3d0c18db5d1d21924be8",
        ("th", "mobile"): "de541dd83161c241ff426f7ecfd602a0ba77d686cf3ab9a6c255ea82fd08006e",
        ("el", "mobile"): "b4368bccd557123c702b7549fee6cd1e94b581337d1c9b65310f109131542b7f",
        ("arabic", "mobile"): "c1192e632d0baa9146ae5b756a0e635e3dc63c1733737ebfd1629e87144e9295",
        ("cyrillic", "mobile"): "90f761b4bfcce0c8c561c0cb5c887b0971d3ec01c32164bdf7374a35b0982711",
        ("devanagari", "mobile"): "d6f0a906580e3fa6b324a318718f1f31f268b6ea8ef985f91c2012a37f52c91e",
        ("ta", "mobile"): "a42448808b7dea87597336f12438935f40353f1949e8360acd9e06b4da21bfe1",
        ("te", "mobile"): "a3690451b50028a09a3316a1274f7c05728151ea3f8fd392696397a7fefcbd92",
    }.items()
}


def detection_name(model_name: str) -> str:
    """The model whose detection part a (maybe language-specific) model uses."""
    return clean_name(model_name).split("__")[-1]


@attrs.frozen
class OcrPaths:
    """Where one OCR model's files are in the cache: ``root`` holds its recognition part,
    ``detection_root`` its detection part (the same folder unless the name has a language)."""

    root: Path
    detection_root: Path

    @classmethod
    def of(cls, cache: Path, model_name: str) -> OcrPaths:
        return cls(cache / OCR_TASK / clean_name(model_name), cache / OCR_TASK / detection_name(model_name))

    @property
    def detection(self) -> Path:
        return self.detection_root / DETECTION / MODEL_FILE

    @property
    def recognition(self) -> Path:
        return self.root / RECOGNITION / MODEL_FILE

    @property
    def charset(self) -> Path:
        return self.root / RECOGNITION / CHARSET_FILE

    def missing(self) -> list[str]:
        return [str(p.relative_to(p.parents[2])) for p in (self.detection, self.recognition) if not p.is_file()]


def source_files(model_name: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The detection and recognition files (path, SHA-256) Immich fetches for ``model_name``."""
    name = clean_name(model_name)
    size = "mobile" if "mobile" in name else "server"
    language = name.split("__")[0].lower() if "__" in name else "ch"
    recognition = RECOGNITION_FILES.get((language, size))
    if recognition is None:
        raise ModelError(f"Model '{model_name}' has no {size} recognition model for the language '{language}'")
    return DETECTION_FILES[size], recognition


def download_ocr(paths: OcrPaths, model_name: str, *, endpoint: str | None = None) -> None:
    """Fetch the missing model files of an OCR model (blocking: run in a thread); each lands
    in a ``.part`` file renamed into place when complete, with a progress line in the log, and
    is removed again when its SHA-256 is not the expected one."""
    base = endpoint or os.environ.get(ENDPOINT_ENV) or RAPIDOCR_MODELS
    if not paths.missing():
        return
    detection, recognition = source_files(model_name)
    log.info("Downloading ocr model '%s' to %s. This may take a while.", model_name, paths.root)
    for (source, digest), target in ((detection, paths.detection), (recognition, paths.recognition)):
        if target.is_file():
            continue
        relative = f"{target.parent.name}/{target.name}"
        try:
            _fetch(f"{base}/{source}", target)
        except (httpx.HTTPError, OSError) as exc:
            raise ModelError(
                f"Model '{model_name}' is missing {relative} in {target.parents[1]} and could not be"
                f" downloaded from {base}: {exc}"
            ) from exc
        if _sha256(target) != digest:
            target.unlink()
            raise ModelError(f"Model '{model_name}': {base}/{source} is not the expected file (SHA-256 differs)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
