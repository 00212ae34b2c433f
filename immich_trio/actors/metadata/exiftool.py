"""Trio client for one long-lived ``exiftool -stay_open True -@ -`` process.

Requests are written to exiftool's stdin as an argument file (one argument per line) and end
with ``-execute<N>``; the reply is stdout up to ``{ready<N>}``. ``-echo4 {ready<N>}`` puts the
same marker on stderr after the command, so each request drains stderr up to its own marker and
the error text can be attached to the request that produced it (no pipe can fill up).

Tag names and values (see ``READ_ARGS``): printed values without group prefixes, as Immich's
exiftool-vendored reads them (``ExposureTime`` "1/200", ``ColorSpace`` "sRGB", ``ImageSize``
"4032x3024", ``LensID`` as a lens name), except the tags listed in ``NUMERIC_TAGS``, read with
``#`` (no print conversion): signed decimal GPS degrees, Orientation 1..8, FocalLength in mm,
FileSize in bytes, Rotation in degrees, Duration in seconds. MWG composite tags are enabled
(``-use MWG``) so that Description/Keywords/DateTimeOriginal/Rating reconcile EXIF, IPTC, XMP.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from immich_trio.actors.metadata.lifeline import marker_env, shim_command, sweep_strays
from immich_trio.reactor.background import lower_process_priority

EXECUTABLE = "exiftool"
#: Tags read without print conversion (``-TAG#``).
NUMERIC_TAGS: tuple[str, ...] = (
    "Orientation",
    "GPSLatitude",
    "GPSLongitude",
    "GPSAltitude",
    "FocalLength",
    "FileSize",
    "Rotation",
    "Duration",
)
#: Arguments of every tag-reading request, before the file name.
READ_ARGS: tuple[str, ...] = (
    "-json",
    "-use",
    "MWG",
    "-api",
    "largefilesupport=1",
    "-charset",
    "filename=utf8",
    *(f"-{tag}#" for tag in NUMERIC_TAGS),
    "-all",
)
#: Extra argument for videos: embedded (timed) metadata, as Immich reads videos.
EXTRACT_EMBEDDED_ARG = "-ee"
#: exiftool's summary words for a write that went through.
WRITE_DONE = ("updated", "created", "unchanged")
#: stderr kept per request for error messages; the rest is drained and dropped.
STDERR_KEEP_BYTES = 16 * 1024
READ_CHUNK = 64 * 1024
#: Grace given to a process told to exit (or killed) before we stop waiting for it.
SHUTDOWN_GRACE_SECONDS = 2.0

Tags = dict[str, Any]


class ExiftoolError(Exception):
    """exiftool failed on a request: it died, produced no output, or was unusable."""

    def __init__(self, message: str, *, path: str | None = None, stderr: str = "") -> None:
        detail = message if path is None else f"{message} ({path})"
        if stderr:
            detail = f"{detail}: {stderr.strip()}"
        super().__init__(detail)
        self.path = path
        self.stderr = stderr


@attrs.frozen(kw_only=True)
class ExiftoolStatistics:
    pid: int | None
    requests: int
    failures: int
    restarts: int


def _encode_arg(arg: str | bytes | os.PathLike[str]) -> bytes:
    """One argument-file line. File names keep their raw bytes (non UTF-8 names work)."""
    raw = os.fsencode(arg)
    if b"\n" in raw or b"\r" in raw or raw[:1].isspace():
        # "#[CSTR]" lines are C strings: the only way to pass a newline in an argument.
        escaped = raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return b"#[CSTR]" + escaped + b"\n"
    return raw + b"\n"


def _file_arg(path: str | bytes | os.PathLike[str]) -> bytes:
    """Absolute path, so a name starting with '-' is never taken for an option."""
    return os.path.abspath(os.fsencode(path))


class _Process:
    """One exiftool incarnation and its pipes."""

    def __init__(self, proc: trio.Process, lifeline: int) -> None:
        self.proc = proc
        #: Write end of the pipe the watcher shim waits on: closing it kills exiftool.
        self.lifeline = lifeline
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.stdin = proc.stdin
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    async def aclose(self, *, graceful: bool) -> None:
        """Stop the process; never raises, never waits longer than the grace period."""
        with trio.move_on_after(SHUTDOWN_GRACE_SECONDS, shield=True):
            if graceful and self.proc.returncode is None:
                try:
                    await self.stdin.send_all(b"-stay_open\nFalse\n")
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
                with trio.move_on_after(SHUTDOWN_GRACE_SECONDS / 2):
                    await self.proc.wait()
            self.kill()
            await self.proc.wait()
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1
        for stream in (self.stdin, self.stdout, self.stderr):
            with trio.CancelScope(shield=True):
                await stream.aclose()


class Exiftool:
    """Client of one exiftool process, started lazily and restarted after any failure.

    Requests are serialised with a lock (exiftool runs one command at a time). The caller
    sets the deadline with ``trio.fail_after``; a request cancelled mid-way (deadline or
    otherwise) leaves the process in an unknown state, so it is killed and the next request
    starts a fresh one. A process that dies during a request makes that request raise
    ``ExiftoolError``. Use ``open_exiftool()`` to get one bound to a scope.
    """

    def __init__(self, *, executable: str = EXECUTABLE, owner: str | None = None) -> None:
        self._executable = executable
        #: Media folder the helpers are marked with, so a later server can sweep strays.
        self._owner = owner
        self._swept = owner is None
        self._lock = trio.Lock()
        self._process: _Process | None = None
        self._counter = 0
        self._requests = 0
        self._failures = 0
        self._starts = 0
        self._closed = False

    def statistics(self) -> ExiftoolStatistics:
        pid = None
        if self._process is not None and self._process.proc.returncode is None:
            pid = self._process.proc.pid
        return ExiftoolStatistics(
            pid=pid,
            requests=self._requests,
            failures=self._failures,
            restarts=max(0, self._starts - 1),
        )

    async def _ensure_process(self) -> _Process:
        if self._process is not None and self._process.proc.returncode is not None:
            await self._process.aclose(graceful=False)
            self._process = None
        if self._process is None:
            if not self._swept and self._owner is not None:
                self._swept = True
                await trio.to_thread.run_sync(sweep_strays, self._owner)
            # Non-inheritable pipe: only this helper's watcher gets the read end.
            watch_fd, lifeline = os.pipe()
            try:
                proc = await trio.lowlevel.open_process(
                    shim_command([self._executable, "-stay_open", "True", "-@", "-"], watch_fd),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(watch_fd,),
                    env=marker_env(self._owner or ""),
                )
            except OSError as exc:
                os.close(lifeline)
                raise ExiftoolError(f"cannot start {self._executable!r}: {exc}") from exc
            finally:
                os.close(watch_fd)
            # Metadata extraction is background work: requests get the cores first.
            lower_process_priority(proc.pid)
            self._process = _Process(proc, lifeline)
            self._starts += 1
        return self._process

    async def execute(self, *args: str | bytes | os.PathLike[str]) -> bytes:
        """Run one exiftool command; return its stdout (raw bytes)."""
        stdout, _ = await self.execute_with_stderr(*args)
        return stdout

    async def execute_with_stderr(self, *args: str | bytes | os.PathLike[str]) -> tuple[bytes, str]:
        """Run one exiftool command; return its stdout and the tail of its stderr."""
        if self._closed:
            raise ExiftoolError("exiftool client is closed")
        async with self._lock:
            self._requests += 1
            process = await self._ensure_process()
            self._counter += 1
            marker = f"{{ready{self._counter}}}\n".encode()
            request = b"".join(_encode_arg(a) for a in args) + (
                f"-echo4\n{{ready{self._counter}}}\n-execute{self._counter}\n".encode()
            )
            stdout: bytes | None = None
            stderr: bytes | None = None
            broken: list[str] = []
            ok = False
            try:

                async def read_stdout(task_status: trio.TaskStatus[None]) -> None:
                    nonlocal stdout
                    task_status.started()
                    stdout = await _read_until(process.stdout, marker, keep=None, broken=broken)
                    if broken:
                        nursery.cancel_scope.cancel()

                async def read_stderr(task_status: trio.TaskStatus[None]) -> None:
                    nonlocal stderr
                    task_status.started()
                    stderr = await _read_until(
                        process.stderr, marker, keep=STDERR_KEEP_BYTES, broken=broken
                    )
                    if broken:
                        nursery.cancel_scope.cancel()

                async with trio.open_nursery() as nursery:
                    await nursery.start(read_stdout)
                    await nursery.start(read_stderr)
                    try:
                        await process.stdin.send_all(request)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        broken.append(f"stdin: {exc!r}")
                        nursery.cancel_scope.cancel()
                ok = not broken
            finally:
                if not ok and self._process is process:
                    # Died, or cancelled half-way (deadline): its state is unknown, so a new
                    # process serves the next request.
                    self._failures += 1
                    self._process = None
                    await process.aclose(graceful=False)
            if broken or stdout is None:
                raise ExiftoolError(
                    f"exiftool exited (code {process.proc.returncode}) during a request",
                    path=_describe(args),
                    stderr=(stderr or b"").decode("utf-8", "replace") or "; ".join(broken),
                )
            return stdout, (stderr or b"").decode("utf-8", "replace").strip()

    async def read_tags(
        self, path: str | bytes | os.PathLike[str], *, extract_embedded: bool = False
    ) -> Tags:
        """All tags of one file as a flat dict (see the module docstring for the format)."""
        args: list[str | bytes] = list(READ_ARGS)
        if extract_embedded:
            args.append(EXTRACT_EMBEDDED_ARG)
        args.append(_file_arg(path))
        out, stderr = await self.execute_with_stderr(*args)
        text = out.decode("utf-8", "surrogateescape").strip()
        if not text:
            raise ExiftoolError("exiftool returned no tags", path=os.fsdecode(path), stderr=stderr)
        try:
            records = json.loads(text)
        except ValueError as exc:
            raise ExiftoolError(
                f"unreadable exiftool output: {exc}", path=os.fsdecode(path)
            ) from exc
        if not isinstance(records, list) or not records or not isinstance(records[0], dict):
            raise ExiftoolError("unexpected exiftool output", path=os.fsdecode(path))
        tags: Tags = records[0]
        return tags

    async def read_sidecar(self, path: str | os.PathLike[str]) -> Tags:
        """Tags of an XMP sidecar. UTF-16 sidecars (which exiftool 12.57 reads as empty) are
        transcoded to a temporary UTF-8 copy first."""
        head = await trio.Path(os.fsdecode(path)).open("rb")
        async with head:
            bom = await head.read(4)
        if bom[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return await self.read_tags(path)
        copy = await trio.to_thread.run_sync(_utf8_copy, os.fsdecode(path))
        try:
            return await self.read_tags(copy)
        finally:
            await trio.Path(copy).unlink(missing_ok=True)

    async def write_tags(
        self, path: str | os.PathLike[str], tags: Sequence[tuple[str, str | None]]
    ) -> None:
        """Write ``tags`` (name, printed value; ``None`` deletes the tag) into ``path`` in
        place; an XMP file that does not exist yet is created. Raises ``ExiftoolError`` when
        exiftool neither updates, creates nor leaves the file unchanged (an error)."""
        args: list[str | bytes] = ["-overwrite_original", "-charset", "filename=utf8"]
        args += [f"-{name}=" if value is None else f"-{name}={value}" for name, value in tags]
        args.append(_file_arg(path))
        out, stderr = await self.execute_with_stderr(*args)
        summary = out.decode("utf-8", "replace")
        if not any(f"1 image files {done}" in summary for done in WRITE_DONE):
            raise ExiftoolError(
                f"exiftool wrote nothing ({summary.strip() or 'no output'})",
                path=os.fsdecode(path),
                stderr=stderr,
            )

    async def version(self) -> str:
        out = await self.execute("-ver")
        return out.decode("ascii", "replace").strip()

    async def aclose(self) -> None:
        """Stop the process: politely when idle, killed when a request is still running
        (that request then fails with ``ExiftoolError``)."""
        self._closed = True
        if self._process is not None:
            process, self._process = self._process, None
            await process.aclose(graceful=not self._lock.locked())


def _utf8_copy(path: str) -> str:
    with open(path, "rb") as f:
        text = f.read().decode("utf-16")
    fd, copy = tempfile.mkstemp(suffix=".xmp", prefix="sidecar-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text.lstrip("\ufeff"))
    return copy


async def _read_until(
    stream: trio.abc.ReceiveStream, marker: bytes, *, keep: int | None, broken: list[str]
) -> bytes | None:
    """Bytes before ``marker`` (only the last ``keep`` bytes if set); None at end of stream.

    Reading to the marker also drains the stream, so exiftool never blocks on a full pipe.
    """
    buf = bytearray()
    while True:
        try:
            chunk = await stream.receive_some(READ_CHUNK)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            broken.append(repr(exc))
            return None
        if not chunk:
            broken.append("end of stream")
            return bytes(buf[-keep:]) if keep is not None else None
        buf += chunk
        if buf.endswith(marker):
            return bytes(buf[: -len(marker)])
        if keep is not None and len(buf) > 2 * keep:
            del buf[:-keep]


def _describe(args: Sequence[str | bytes | os.PathLike[str]]) -> str | None:
    return os.fsdecode(args[-1]) if args else None


@asynccontextmanager
async def open_exiftool(*, executable: str = EXECUTABLE) -> AsyncIterator[Exiftool]:
    """An exiftool client whose process is stopped when the block exits."""
    client = Exiftool(executable=executable)
    try:
        yield client
    finally:
        with trio.CancelScope(shield=True):
            await client.aclose()
