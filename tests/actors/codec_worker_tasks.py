"""Jobs for codec worker processes in the tests (module-level, so they pickle by reference)."""

from __future__ import annotations

import ctypes
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


def rss() -> int:
    """This worker's resident memory in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def leave_freed_heap(megabytes: int) -> int:
    """Fill ``megabytes`` of C heap in 64 KB blocks (under glibc's mmap threshold), each followed
    by a small block that stays, free the large ones, and answer the RSS then: the freed memory
    is still resident (holes glibc cannot give back by itself), as after a large decode, until
    someone trims the heap."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 64 * 1024
    blocks = []
    for _ in range(megabytes * 16):
        address = libc.malloc(block)
        ctypes.memset(address, 1, block)
        blocks.append(address)
        _pinned.append(libc.malloc(64))
    for address in blocks:
        libc.free(address)
    return rss()


_pinned: list[int] = []
