"""CLIP for the rest of the server: in-process by default, Immich's ML service when configured.

``machineLearning.urls`` decides: the built-in default (``http://immich-machine-learning:3003``,
Immich's compose service name) or an empty list means in-process; any other URL list sends
requests to those services, so an operator who points the config (or
``IMMICH_MACHINE_LEARNING_URL``) at an Immich ML container gets exactly Immich's behaviour.
Embeddings travel as text in pgvector's form (``[x,y,...]``), as Immich's service answers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio

from immich_trio.ml.clip import serialize
from immich_trio.ml.local import LocalClip
from immich_trio.ml.remote import RemoteError, RemoteML

DEFAULT_ML_URL = "http://immich-machine-learning:3003"
TEXT_CACHE_SIZE = 100  # Immich keeps the last 100 query embeddings


class ClipUnavailable(Exception):
    """The embedding could not be computed (remote services down, model missing)."""


def ml_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    value = config.get("machineLearning")
    return value if isinstance(value, Mapping) else {}


def clip_enabled(config: Mapping[str, Any]) -> bool:
    """Immich's ``isSmartSearchEnabled``: ML on and CLIP on."""
    ml = ml_config(config)
    clip = ml.get("clip")
    return bool(ml.get("enabled")) and isinstance(clip, Mapping) and bool(clip.get("enabled"))


def clip_model(config: Mapping[str, Any]) -> str:
    clip = ml_config(config).get("clip")
    return str(clip.get("modelName")) if isinstance(clip, Mapping) else "ViT-B-32__openai"


def uses_remote(config: Mapping[str, Any]) -> bool:
    urls = [str(u) for u in ml_config(config).get("urls") or []]
    return bool(urls) and urls != [DEFAULT_ML_URL]


class ClipService:
    """Encodes images and text with the configured model, here or on a remote service."""

    def __init__(self, local: LocalClip, remote: RemoteML | None = None) -> None:
        self.local = local
        self.remote = remote if remote is not None else RemoteML()
        self._config: Mapping[str, Any] | None = None
        self._texts: OrderedDict[tuple[str, str, str | None, bool], str] = OrderedDict()

    def apply_config(self, config: Mapping[str, Any]) -> None:
        """A ``sysconfig.subscribe`` listener: the availability checks follow the config."""
        self._config = config

    async def encode_image(self, config: Mapping[str, Any], path: Path) -> str:
        model = clip_model(config)
        if uses_remote(config):
            data = await trio.Path(path).read_bytes()
            entries = {"clip": {"visual": {"modelName": model}}}
            return await self._remote(config, entries, image=data)
        return serialize(await self.local.encode_image(model, path))

    async def encode_text(self, config: Mapping[str, Any], text: str, language: str | None = None) -> str:
        """The text's embedding, from the cache of recent queries when it holds it."""
        key = (clip_model(config), text, language, uses_remote(config))
        cached = self._texts.get(key)
        if cached is not None:
            self._texts.move_to_end(key)
            return cached
        embedding = await self._encode_text(config, text, language)
        self._texts[key] = embedding
        while len(self._texts) > TEXT_CACHE_SIZE:
            self._texts.popitem(last=False)
        return embedding

    async def _encode_text(self, config: Mapping[str, Any], text: str, language: str | None) -> str:
        model = clip_model(config)
        if uses_remote(config):
            options = {"language": language} if language is not None else {}
            entries = {"clip": {"textual": {"modelName": model, "options": options}}}
            return await self._remote(config, entries, text=text)
        return serialize(await self.local.encode_text(model, text))

    async def _remote(self, config: Mapping[str, Any], entries: Mapping[str, Any], **payload: Any) -> str:
        try:
            answer = await self.remote.predict(ml_config(config), entries, **payload)
        except RemoteError as exc:
            raise ClipUnavailable(str(exc)) from exc
        embedding = answer.get("clip")
        if isinstance(embedding, list):  # tolerate a list where Immich sends its string form
            embedding = "[" + ",".join(repr(float(x)) for x in embedding) + "]"
        if not isinstance(embedding, str):
            raise ClipUnavailable("the machine learning answer has no clip embedding")
        return embedding

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Idle-model unloading and the remote availability checks, until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.local.run)
            await nursery.start(self._checks)
            task_status.started()

    async def _checks(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        def current() -> Mapping[str, Any] | None:
            config = self._config
            if config is None or not uses_remote(config):
                return {"enabled": False}
            return ml_config(config)

        await self.remote.run_checks(current, task_status=task_status)
