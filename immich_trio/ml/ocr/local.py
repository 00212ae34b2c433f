"""In-process OCR: models loaded on first use, run in threads, unloaded when idle.

The same policy as in-process CLIP (``ml/local.py``): a model unused for
``MACHINE_LEARNING_MODEL_TTL`` seconds is unloaded (checked every ``TTL_POLL``), at most
``max_loaded`` stay loaded, and loading and inference run in threads under one
``CapacityLimiter``. A missing model is fetched once (``download_ocr``); a model that is still
missing or cannot be loaded is a ``ModelError`` for that job, and the next job tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from immich_trio.ml.layout import ModelError
from immich_trio.ml.local import MAX_LOADED, MODEL_TTL, TTL_POLL
from immich_trio.ml.ocr.models import OcrPaths, download_ocr
from immich_trio.ml.ocr.reader import OcrOptions, OcrReader, OcrResult, load_reader

log = logging.getLogger(__name__)


@attrs.define
class _Slot:
    reader: OcrReader
    last_used: float
    in_use: int = 0


@attrs.frozen(kw_only=True)
class LocalOcrStatistics:
    loaded: tuple[str, ...]
    loads: int
    unloads: int
    inferences: int


class LocalOcr:
    """Owns this process's loaded OCR models. ``run`` (started by the supervisor) unloads
    idle ones; without it models stay until evicted by ``max_loaded``."""

    def __init__(
        self,
        cache: Path,
        *,
        ttl: float = MODEL_TTL,
        poll: float = TTL_POLL,
        max_loaded: int = MAX_LOADED,
        threads: int = 1,
        limiter: trio.CapacityLimiter | None = None,
        download: Callable[[OcrPaths, str], None] = download_ocr,
    ) -> None:
        self.cache = cache
        self.ttl = ttl
        self.poll = poll
        self.max_loaded = max_loaded
        self.threads = threads
        self.limiter = limiter if limiter is not None else trio.CapacityLimiter(1)
        self._download = download
        self._slots: dict[str, _Slot] = {}
        self._locks: dict[str, trio.Lock] = {}
        self._loads = self._unloads = self._inferences = 0

    async def read_file(self, model_name: str, path: Path, options: OcrOptions) -> OcrResult:
        slot = await self._slot(model_name)
        slot.in_use += 1
        try:
            result = await trio.to_thread.run_sync(slot.reader.read_file, path, options, limiter=self.limiter)
        finally:
            slot.in_use -= 1
            slot.last_used = trio.current_time()
        self._inferences += 1
        return result

    async def _slot(self, model_name: str) -> _Slot:
        lock = self._locks.setdefault(model_name, trio.Lock())
        async with lock:  # two jobs asking for a model neither has loaded load it once
            slot = self._slots.get(model_name)
            if slot is not None:
                slot.last_used = trio.current_time()
                return slot
            reader = await trio.to_thread.run_sync(self._load, model_name, limiter=self.limiter)
            self._evict_for_one_more()
            slot = _Slot(reader=reader, last_used=trio.current_time())
            self._slots[model_name] = slot
            self._loads += 1
            return slot

    def _load(self, model_name: str) -> OcrReader:
        paths = OcrPaths.of(self.cache, model_name)
        if paths.missing():
            self._download(paths, model_name)
            if paths.missing():
                raise ModelError(f"Model '{model_name}' is missing {', '.join(paths.missing())}")
        log.info("Loading ocr model '%s' to memory", model_name)
        return load_reader(paths, self.threads)

    def _evict_for_one_more(self) -> None:
        idle = sorted((s.last_used, k) for k, s in self._slots.items() if s.in_use == 0)
        while len(self._slots) >= self.max_loaded and idle:
            self._unload(idle.pop(0)[1])

    def _unload(self, model_name: str) -> None:
        del self._slots[model_name]
        self._unloads += 1
        log.info("Unloading ocr model '%s'", model_name)

    def unload_idle(self) -> None:
        """Unload every model unused for ``ttl`` seconds (none when ``ttl`` is 0)."""
        if self.ttl <= 0:
            return
        now = trio.current_time()
        for name, slot in list(self._slots.items()):
            if slot.in_use == 0 and now - slot.last_used >= self.ttl:
                self._unload(name)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.poll)
            self.unload_idle()

    def statistics(self) -> LocalOcrStatistics:
        return LocalOcrStatistics(
            loaded=tuple(self._slots), loads=self._loads, unloads=self._unloads, inferences=self._inferences
        )
