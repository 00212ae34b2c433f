"""File-name extension → MIME type, asset type and upload eligibility (media-types.json).

Immich judges files by the last extension of their name, case-insensitively; so does this.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

OCTET_STREAM = "application/octet-stream"
SIDECAR_EXTENSIONS = (".xmp",)


@cache
def _document() -> dict[str, Any]:
    text = resources.files("immich_trio.http").joinpath("media-types.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _extensions() -> dict[str, dict[str, Any]]:
    return _document()["extensions"]  # type: ignore[no-any-return]


def supported() -> dict[str, list[str]]:
    """The answer of ``GET /api/server/media-types``: extensions by kind."""
    types = _document()["GET /api/server/media-types"]
    return {"video": types["video"], "image": types["image"], "sidecar": types["sidecar"]}


def extension(filename: str) -> str:
    """The last extension with its dot and its case kept (``"IMG.JPG"`` → ``".JPG"``), or ``""``."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""  # a leading dot alone marks a hidden file, not a type


def _entry(filename: str) -> dict[str, Any] | None:
    return _extensions().get(extension(filename).lower())


def mime_type(filename: str) -> str:
    """The first MIME type listed for the extension, else ``application/octet-stream``."""
    entry = _entry(filename)
    return str(entry["mime"][0]) if entry else OCTET_STREAM


def asset_type(filename: str) -> str:
    """``IMAGE``, ``VIDEO`` or ``OTHER``, from the looked-up MIME type (as Immich does)."""
    mime = mime_type(filename)
    if mime.startswith("image/"):
        return "IMAGE"
    if mime.startswith("video/") or mime == "application/mxf":
        return "VIDEO"
    return "OTHER"


def is_asset(filename: str) -> bool:
    """Whether ``filename`` may be uploaded as ``assetData`` (an image or a video)."""
    entry = _entry(filename)
    return entry is not None and entry["assetType"] in ("IMAGE", "VIDEO")


def is_sidecar(filename: str) -> bool:
    return extension(filename).lower() in SIDECAR_EXTENSIONS


def has_flag(filename: str, flag: str) -> bool:
    entry = _entry(filename)
    return entry is not None and flag in entry.get("flags", ())
