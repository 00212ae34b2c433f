"""Checks run as an unprivileged user, so that file permissions are real: the tests run as root,
whom a mode-000 folder does not stop.

``run_as_nobody(check)`` forks, drops the child to uid/gid 65534 (no supplementary groups), runs
``check`` there and hands its (picklable) answer back; run as another user already, the check
runs in place. Where privileges cannot be dropped (no CAP_SETUID), the test is skipped with the
reason. ``traversable_folder()`` makes a temporary folder that user may enter (pytest's own
``tmp_path`` sits below a mode-700 folder of root's).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

NOBODY = 65534
CHILD_TIMEOUT_S = 20
T = TypeVar("T")


def _in_child(check: Callable[[], object]) -> tuple[str, object]:
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    except OSError as exc:
        return "skip", f"cannot drop root's privileges here: {exc}"
    try:
        return "ok", check()
    except BaseException as exc:  # reported to the test in the parent
        return "error", repr(exc)


def run_as_nobody(check: Callable[[], T]) -> T:
    """``check()`` run as uid/gid 65534 (in a forked child when the tests run as root)."""
    if os.geteuid() != 0:
        return check()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            signal.alarm(CHILD_TIMEOUT_S)
            answer = _in_child(check)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(answer, out)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answers:
        data = answers.read()
    _, status = os.waitpid(pid, 0)
    assert data, f"the unprivileged child gave no answer (wait status {status})"
    kind, value = pickle.loads(data)
    if kind == "skip":
        pytest.skip(str(value))
    assert kind == "ok", f"in the unprivileged child: {value}"
    return value  # type: ignore[no-any-return]


@contextmanager
def traversable_folder() -> Iterator[Path]:
    """A temporary folder that uid 65534 may enter and read (removed afterwards, whatever the
    modes left inside it)."""
    base = Path(tempfile.mkdtemp(prefix="unprivileged-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for folder, dirs, _ in os.walk(base):
            for name in dirs:
                (Path(folder) / name).chmod(stat.S_IRWXU)
        shutil.rmtree(base, ignore_errors=True)
