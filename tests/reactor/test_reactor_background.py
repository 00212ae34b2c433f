"""Background threads: results, errors, the limiter, cancellation, and the lowered priority."""

from __future__ import annotations

import os
import sys
import threading
import time
from functools import partial

import pytest
import trio

from immich_trio.reactor.background import (
    BACKGROUND_NICE,
    lower_process_priority,
    run_in_background_thread,
)


async def test_returns_the_result_from_another_thread() -> None:
    limiter = trio.CapacityLimiter(1)
    ident = await run_in_background_thread(threading.get_ident, limiter=limiter)
    assert ident != threading.get_ident()


async def test_raises_the_functions_error() -> None:
    def fail() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await run_in_background_thread(fail, limiter=trio.CapacityLimiter(1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux only")
async def test_the_thread_runs_at_a_lower_priority_and_the_caller_does_not() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen = await run_in_background_thread(niceness, limiter=trio.CapacityLimiter(1))
    assert seen == min(19, before + BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    # Trio's own worker threads are untouched.
    assert await trio.to_thread.run_sync(niceness) == before


async def test_the_limiter_bounds_how_many_run_at_once() -> None:
    limiter = trio.CapacityLimiter(2)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(lambda: run_in_background_thread(work, limiter=limiter))
    assert peak == 2


async def test_a_cancelled_call_waits_for_its_thread_then_is_cancelled() -> None:
    finished = threading.Event()

    def work() -> str:
        time.sleep(0.05)
        finished.set()
        return "done"

    with trio.move_on_after(0.01) as scope:
        result = await run_in_background_thread(work, limiter=trio.CapacityLimiter(1))
        assert finished.is_set() and result == "done"
        await trio.lowlevel.checkpoint()  # the next checkpoint delivers the cancellation
        pytest.fail("not cancelled")
    assert scope.cancelled_caught


async def test_a_child_process_is_lowered() -> None:
    async with trio.open_nursery() as nursery:
        command = [sys.executable, "-c", "import time; time.sleep(5)"]
        proc = await nursery.start(partial(trio.run_process, command, check=False))
        try:
            assert lower_process_priority(proc.pid)
            assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(
                19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE
            )
        finally:
            proc.kill()
    assert not lower_process_priority(proc.pid)  # gone: refused, not raised
