"""Codec worker processes: the thumbnailer's decoding, resizing and encoding run in a few
long-lived child processes under a memory ceiling, so a decoder that allocates wildly (a lying
header the budget check cannot see, a codec bug) or crashes takes down a worker, not the server.

The workers are trio-parallel's: started on first use, reused job after job (a job costs a
pickle of the arguments and of the encoded files, well under a millisecond), retired after a
period of idleness. Each sets ``RLIMIT_DATA`` on itself at start: the decode budget (budget.py)
plus ``MARGIN_MB`` for the libraries, their threads and the encoders, or
``IMMICH_TRIO_DECODE_WORKER_MEMORY_MB``. ``RLIMIT_DATA`` counts the memory a process writes
(heap, anonymous mappings, thread stacks), not file mappings or reserved address space as
``RLIMIT_AS`` would, so an allocation past it fails at once (``MemoryError``, a libvips error,
or an abort in C++ code) instead of growing until the kernel's OOM killer picks a victim.

Outcomes: a ``MemoryError`` fails the job for good with the reason and retires the worker (its
heap may be fragmented or a library left half-initialised); a worker that dies (a signal, the
ceiling hit in C code, ``kill -9``) fails the job for good with the cause, and the next job
gets a new worker. Workers write nothing: the actor writes their ``Rendered`` outputs. A
worker that a job left much larger than it started (a bomb, a panorama) gives its free heap
back to the system before it waits for the next job.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import attrs
import trio
import trio_parallel

from immich_trio.reactor.background import BACKGROUND_NICE

from .budget import decode_budget
from .options import ThumbnailError

__all__ = [
    "CEILING_ENV",
    "MARGIN_MB",
    "CodecWorkers",
    "CodecWorkersStatistics",
    "open_codec_workers",
    "worker_ceiling",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

CEILING_ENV = "IMMICH_TRIO_DECODE_WORKER_MEMORY_MB"
"""Megabytes of data one codec worker may map; default: the decode budget plus ``MARGIN_MB``."""
MARGIN_MB = 1024
"""Above the decode budget: ~120 MB of libraries after import (libvips, Pillow, libheif,
LibRaw, FFmpeg, numpy), libvips' thread stacks and malloc arenas, the encoders' buffers, and
camera RAW, which the budget does not cover: LibRaw holds the 16-bit mosaic and a 16-bit
4-channel image (a 61 MP sensor decoded at full size for a fullsize file: ~0.8 GB)."""
IDLE_TIMEOUT = 600.0
"""Seconds an idle worker waits for a job before it exits and frees its memory."""
TRIM_ABOVE_MB = 96
"""A worker this much larger than after its start gives its free heap back after a job."""
GRACE_PERIOD = 5.0
"""Seconds workers get to exit when the actor stops, before they are killed."""
_MB = 1024 * 1024


def worker_ceiling(env: Mapping[str, str] | None = None) -> int:
    """Bytes a worker may map: ``IMMICH_TRIO_DECODE_WORKER_MEMORY_MB``, else budget + margin."""
    source = os.environ if env is None else env
    value = source.get(CEILING_ENV, "").strip()
    if value:
        try:
            return max(64, int(value)) * _MB
        except ValueError:
            log.warning("%s=%r is not a number of megabytes; using the default", CEILING_ENV, value)
    return decode_budget(dict(source)) + MARGIN_MB * _MB


@attrs.frozen(kw_only=True)
class CodecWorkersStatistics:
    ceiling_mb: int
    running: int
    idle: int
    died: int
    """Jobs whose worker died (signal, abort, kill)."""
    out_of_memory: int
    """Jobs that hit the ceiling as a ``MemoryError``."""


class CodecWorkers:
    """Runs codec functions in the worker processes of one trio-parallel context."""

    def __init__(self, context: trio_parallel.WorkerContext, ceiling: int) -> None:
        self._context = context
        self.ceiling = ceiling
        self._died = 0
        self._out_of_memory = 0

    async def run(self, fn: Callable[[], T], *, limiter: trio.CapacityLimiter, what: str) -> T:
        """``fn()`` in a worker under ``limiter``: its result, or ThumbnailError with the reason.

        ``fn`` must pickle (a module-level function, or a ``partial`` of one). ``what`` names
        the file in the reasons. Cancelled, the worker is killed (it holds no file open for
        writing) and replaced on next use.
        """
        try:
            result: T = await self._context.run_sync(_call, fn, kill_on_cancel=True, limiter=limiter)
        except trio_parallel.BrokenWorkerError as exc:
            self._died += 1
            reason = f"{what}: the codec worker died ({_cause(exc)}) while decoding; not retried"
            log.warning("thumbnailer: %s", reason)
            raise ThumbnailError(reason, permanent=True) from exc
        except ThumbnailError as exc:
            if exc.reason.endswith(_OUT_OF_MEMORY_MARK):
                self._out_of_memory += 1
            raise
        return result

    def statistics(self) -> CodecWorkersStatistics:
        stats = self._context.statistics()
        return CodecWorkersStatistics(
            ceiling_mb=self.ceiling // _MB,
            running=stats.running_workers,
            idle=stats.idle_workers,
            died=self._died,
            out_of_memory=self._out_of_memory,
        )


@asynccontextmanager
async def open_codec_workers(*, ceiling: int | None = None) -> AsyncIterator[CodecWorkers]:
    """Workers for the duration of the block; on exit, running jobs end and workers exit."""
    limit = worker_ceiling() if ceiling is None else ceiling
    try:
        async with trio_parallel.open_worker_context(
            idle_timeout=IDLE_TIMEOUT,
            init=partial(_init_worker, limit, BACKGROUND_NICE),
            retire=_retire_worker,
            grace_period=GRACE_PERIOD,
        ) as context:
            yield CodecWorkers(context, limit)
    except trio_parallel.BrokenWorkerError as exc:  # a worker did not exit in time: killed
        log.warning("thumbnailer: codec workers killed at stop: %s", exc)


def _cause(exc: trio_parallel.BrokenWorkerError) -> str:
    proc = exc.args[-1] if exc.args else None
    code = getattr(proc, "exitcode", None)
    if isinstance(code, int) and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if isinstance(code, int):
        return f"exit status {code}"
    return "it stopped answering"


# -- inside a worker process ---------------------------------------------------------------

_OUT_OF_MEMORY_MARK = f"({CEILING_ENV})"
_ceiling = 0
_retire = False
_rss_at_start = 0


def _init_worker(ceiling: int, nice: int) -> None:
    """Set the ceiling, lower the priority, load the codecs before the first job."""
    global _ceiling, _rss_at_start
    _ceiling = ceiling
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, ceiling))
    if nice > 0:
        os.nice(nice)  # background work: the server's event loop and PostgreSQL come first
    from . import codecs, video  # noqa: F401  (imported once, here, not in the first job)

    _rss_at_start = _rss()


def _retire_worker() -> bool:
    return _retire


def _call(fn: Callable[[], T]) -> T:
    global _retire
    try:
        return fn()
    except MemoryError as exc:
        _retire = True
        raise ThumbnailError(_out_of_memory("out of memory while decoding"), permanent=True) from exc
    except ThumbnailError as exc:
        if not isinstance(exc.__cause__, MemoryError):
            raise
        _retire = True
        raise ThumbnailError(_out_of_memory(exc.reason), permanent=True) from None
    finally:
        _give_back_free_memory()


def _give_back_free_memory() -> None:
    """Return the heap's free pages to the system after a job that left the worker large.

    A decode frees its pixels, but glibc keeps freed memory in its arenas for reuse: a worker
    that once decoded a bomb or a panorama would hold ~120-250 MB more while idle (measured
    with benchmarks/bench_bomb_rss.py). Normal photos leave < 60 MB, which the next job reuses;
    trimming after each of them would cost ~3 % of CPU, so only a worker more than
    ``TRIM_ABOVE_MB`` over its size after start is trimmed (glibc's ``malloc_trim``; nothing
    where the C library has none, e.g. musl).
    """
    if _malloc_trim is not None and _rss() > _rss_at_start + TRIM_ABOVE_MB * _MB:
        _malloc_trim(0)


def _rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _load_malloc_trim()
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _out_of_memory(reason: str) -> str:
    return f"{reason}: over the codec worker's memory ceiling of {_ceiling // _MB} MB {_OUT_OF_MEMORY_MARK}"
