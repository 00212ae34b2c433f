"""In-process models, loaded on first use, run in threads, unloaded when idle: CLIP here
(``LocalClip``), faces in ``local_faces.py``, both on ``LocalModels``.

Immich's ML service keeps a model for ``MACHINE_LEARNING_MODEL_TTL`` seconds after its last
use (300 by default; 0 keeps it) and checks every ``MACHINE_LEARNING_MODEL_TTL_POLL_S``
seconds (10): the same numbers here. Memory is bounded twice: at most ``max_loaded`` models
stay loaded (the least recently used goes first) and inference runs under one
``CapacityLimiter`` (each run's arrays live only for its call).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

import attrs
import trio

from immich_trio.ml.clip import Embedding, TextualEncoder, VisualEncoder
from immich_trio.ml.layout import TEXTUAL, VISUAL, ClipPaths, ModelError, download_clip

log = logging.getLogger(__name__)

MODEL_TTL = 300.0
TTL_POLL = 10.0
MAX_LOADED = 4
Encoder = VisualEncoder | TextualEncoder
M = TypeVar("M")
R = TypeVar("R")


@attrs.define
class _Slot(Generic[M]):
    encoder: M
    last_used: float
    in_use: int = 0


@attrs.frozen(kw_only=True)
class LocalClipStatistics:
    loaded: tuple[str, ...]
    loads: int
    unloads: int
    inferences: int


class LocalModels(Generic[M]):
    """Owns the loaded models of one kind in one process. ``run`` (started by the supervisor)
    unloads idle models; without it models stay until evicted by ``max_loaded``. A subclass
    says how a model is loaded (``_load``, in a worker thread) and what is asked of it."""

    def __init__(
        self,
        cache: Path,
        *,
        ttl: float = MODEL_TTL,
        poll: float = TTL_POLL,
        max_loaded: int = MAX_LOADED,
        threads: int = 1,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self.cache = cache
        self.ttl = ttl
        self.poll = poll
        self.max_loaded = max_loaded
        self.threads = threads
        self.limiter = limiter if limiter is not None else trio.CapacityLimiter(1)
        self._slots: dict[tuple[str, str], _Slot[M]] = {}
        self._locks: dict[tuple[str, str], trio.Lock] = {}
        self._loads = self._unloads = self._inferences = 0

    def _load(self, model_name: str, kind: str) -> M:
        raise NotImplementedError

    async def _infer(self, model_name: str, kind: str, call: Callable[[M], R]) -> R:
        slot = await self._slot(model_name, kind)
        slot.in_use += 1
        try:
            result = await trio.to_thread.run_sync(call, slot.encoder, limiter=self.limiter)
        finally:
            slot.in_use -= 1
            slot.last_used = trio.current_time()
        self._inferences += 1
        return result

    async def _slot(self, model_name: str, kind: str) -> _Slot[M]:
        key = (model_name, kind)
        lock = self._locks.setdefault(key, trio.Lock())
        async with lock:  # two jobs asking for a model neither has loaded load it once
            slot = self._slots.get(key)
            if slot is not None:
                slot.last_used = trio.current_time()
                return slot
            encoder = await trio.to_thread.run_sync(self._load, model_name, kind, limiter=self.limiter)
            self._evict_for_one_more()
            slot = _Slot(encoder=encoder, last_used=trio.current_time())
            self._slots[key] = slot
            self._loads += 1
            return slot

    def _evict_for_one_more(self) -> None:
        idle = sorted((s.last_used, k) for k, s in self._slots.items() if s.in_use == 0)
        while len(self._slots) >= self.max_loaded and idle:
            self._unload(idle.pop(0)[1])

    def _unload(self, key: tuple[str, str]) -> None:
        del self._slots[key]
        self._unloads += 1
        log.info("Unloading %s model '%s'", key[1], key[0])

    def unload_idle(self) -> None:
        """Unload every model unused for ``ttl`` seconds (none when ``ttl`` is 0)."""
        if self.ttl <= 0:
            return
        now = trio.current_time()
        for key, slot in list(self._slots.items()):
            if slot.in_use == 0 and now - slot.last_used >= self.ttl:
                self._unload(key)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.poll)
            self.unload_idle()

    def statistics(self) -> LocalClipStatistics:
        return LocalClipStatistics(
            loaded=tuple(f"{name}/{kind}" for name, kind in self._slots),
            loads=self._loads,
            unloads=self._unloads,
            inferences=self._inferences,
        )


class LocalClip(LocalModels[Encoder]):
    """CLIP's visual and textual encoders (``clip.py``); a missing model is fetched first."""

    def __init__(
        self, cache: Path, *, download: Callable[[ClipPaths, str, str], None] = download_clip, **kwargs: Any
    ) -> None:
        super().__init__(cache, **kwargs)
        self._download = download

    async def encode_image(self, model_name: str, path: Path) -> Embedding:
        return await self._infer(model_name, VISUAL, lambda enc: _visual(enc).encode_file(path))

    async def encode_image_bytes(self, model_name: str, data: bytes) -> Embedding:
        return await self._infer(model_name, VISUAL, lambda enc: _visual(enc).encode_bytes(data))

    async def encode_text(self, model_name: str, text: str) -> Embedding:
        return await self._infer(model_name, TEXTUAL, lambda enc: _textual(enc).encode(text))

    def _load(self, model_name: str, kind: str) -> Encoder:
        paths = ClipPaths.of(self.cache, model_name)
        if paths.missing(kind):
            self._download(paths, model_name, kind)
            if paths.missing(kind):
                raise ModelError(f"Model '{model_name}' is missing {', '.join(paths.missing(kind))}")
        log.info("Loading clip %s model '%s' to memory", kind, model_name)
        if kind == VISUAL:
            return VisualEncoder(paths, threads=self.threads)
        return TextualEncoder(paths, threads=self.threads)


def _visual(encoder: Encoder) -> VisualEncoder:
    return encoder if isinstance(encoder, VisualEncoder) else _wrong(encoder)


def _textual(encoder: Encoder) -> TextualEncoder:
    return encoder if isinstance(encoder, TextualEncoder) else _wrong(encoder)


def _wrong(encoder: Encoder) -> NoReturn:
    raise TypeError(f"{type(encoder).__name__} loaded where another encoder was expected")
