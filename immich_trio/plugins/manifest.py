"""The core plugin's manifest as Immich ships it beside its WebAssembly: name, version, the
methods (filters and actions, each with its config schema and UI hints) and the templates."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

import attrs

PLUGIN_SEPARATOR = "#"
WORKFLOW_TYPES = ("AssetV1",)
TRIGGERS: dict[str, tuple[str, ...]] = {
    "AssetCreate": ("AssetV1",),
    "AssetMetadataExtraction": ("AssetV1",),
}
"""Immich v3.1's triggers and the workflow types each one hands its steps."""


@attrs.frozen(kw_only=True)
class Manifest:
    name: str
    version: str
    title: str
    description: str
    author: str
    methods: tuple[dict[str, Any], ...]
    templates: tuple[dict[str, Any], ...]
    sha256: bytes
    """Of the manifest's bytes: Immich skips the import when the stored hash is the same."""


@cache
def core_manifest() -> Manifest:
    raw = resources.files(__package__).joinpath("core_manifest.json").read_bytes()
    data = json.loads(raw)
    return Manifest(
        name=data["name"],
        version=data["version"],
        title=data["title"],
        description=data["description"],
        author=data["author"],
        methods=tuple(data["methods"]),
        templates=tuple(data.get("templates", ())),
        sha256=hashlib.sha256(raw).digest(),
    )


def method_key(plugin_name: str, method_name: str) -> str:
    """``<plugin>#<method>``: how a step names its method on the wire."""
    return f"{plugin_name}{PLUGIN_SEPARATOR}{method_name}"


def parse_method_key(key: str) -> tuple[str, str] | None:
    """``(plugin, method)`` of ``<plugin>[@<version>]#<method>``, or None (Immich's pattern:
    no whitespace, ``@`` or ``#`` inside a part)."""
    head, sep, method = key.partition(PLUGIN_SEPARATOR)
    plugin, _, _version = head.partition("@")
    if not sep or not plugin or not method or PLUGIN_SEPARATOR in method or "@" in method:
        return None
    if any(ch.isspace() for ch in key) or "@" in _version:
        return None
    return plugin, method


def compatible(types: list[str], trigger: str) -> bool:
    """Whether a method of these workflow types can run on ``trigger``."""
    return any(t in types for t in TRIGGERS.get(trigger, ()))
