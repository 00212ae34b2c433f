"""Background CPU work in threads that yield the processor to the request path.

Media work (decoding, resizing, encoding) is CPU-bound and runs while clients wait for
answers. On a small machine the two compete for the same cores: a 40-photo ``@immich/cli``
upload took 1.6-1.9x longer while the thumbnails of the photos already received were being
made beside it (benchmarks/bench_requests.py). Work started here runs in a fresh OS thread
whose scheduling priority is lowered (``nice``), so the event loop, PostgreSQL and the client
get the cores first and the background work takes what is left; on an idle machine it runs
as fast as before. Helper processes of background work (exiftool) are lowered alike.

A fresh thread per call, not Trio's thread cache: a lowered priority cannot be raised back
without privileges, and a cached thread would carry it into unrelated work (an upload's
fsync). A thread costs ~0.1 ms against jobs of tens to hundreds of milliseconds.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import trio

T = TypeVar("T")

# Added to the thread's nice value: under contention it gets about a tenth of the share of a
# normal thread (Linux CFS weights), without being starved.
BACKGROUND_NICE = 10


def lower_thread_priority(increment: int = BACKGROUND_NICE) -> bool:
    """Lower the calling OS thread's priority; False where per-thread priority is not available.

    On Linux ``setpriority(PRIO_PROCESS, tid)`` applies to that one thread; elsewhere it would
    apply to the whole process, so nothing is done.
    """
    if not sys.platform.startswith("linux") or increment <= 0:
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)
    except OSError:
        return False
    return True


def lower_process_priority(pid: int, increment: int = BACKGROUND_NICE) -> bool:
    """Lower the priority of a child process (a helper such as exiftool); False if refused."""
    if increment <= 0:
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + increment)
    except OSError:  # gone already, or not ours to change: it runs at normal priority
        return False
    return True


async def run_in_background_thread(
    fn: Callable[[], T], *, limiter: trio.CapacityLimiter, increment: int = BACKGROUND_NICE
) -> T:
    """``fn()`` in a new low-priority thread, under ``limiter``; its result or its exception.

    Like ``trio.to_thread.run_sync`` (without abandoning): once started, the call waits for
    the thread to finish even when cancelled, and the cancellation is delivered at the
    caller's next checkpoint.
    """
    async with limiter:
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        results: list[T] = []
        errors: list[BaseException] = []

        def work() -> None:
            lower_thread_priority(increment)
            try:
                results.append(fn())
            except BaseException as exc:  # handed to the caller's task, as to_thread does
                errors.append(exc)
            try:
                token.run_sync_soon(done.set)
            except trio.RunFinishedError:  # pragma: no cover - the run ended under us
                pass

        threading.Thread(target=work, name=f"background {getattr(fn, '__name__', 'work')}", daemon=True).start()
        with trio.CancelScope(shield=True):
            await done.wait()
    if errors:
        raise errors[0]
    return results[0]
