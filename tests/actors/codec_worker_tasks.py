"""Jobs for codec worker processes in the tests (module-level, so they pickle by reference)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def allocate(megabytes: int) -> int:
    """Touch ``megabytes`` of fresh memory: past the worker's ceiling this is a MemoryError."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"\x01" * len(block[::4096])
    return len(block)


def pid() -> int:
    return os.getpid()


def crash(sig: int) -> None:
    """Die as a codec bug would (SIGSEGV) or as the OOM killer does (SIGKILL)."""
    os.kill(os.getpid(), sig)
    time.sleep(30)


def wait_to_be_killed(pid_file: Path) -> None:
    """Say which process runs this job, then hang until killed."""
    pid_file.write_text(str(os.getpid()))
    time.sleep(60)


SIGSEGV = int(signal.SIGSEGV)
