"""Where uploaded bytes live and how they get there: staging files, durable moves, media paths.

An upload is written to ``<media>/upload/.tmp/<assetId>.part`` (its sidecar to
``<assetId>.sidecar.part``) while it streams in, fsynced, and renamed into Immich's layout only
after the asset row is committed; ``storage/recovery.py`` finishes or undoes that step after a
crash. Paths are absolute, as Immich stores them in the database (pipeline.md §4).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import threading
from datetime import datetime
from pathlib import Path
from uuid import UUID

import outcome
import trio

UPLOAD = "upload"
THUMBS = "thumbs"
ENCODED_VIDEO = "encoded-video"
UPLOAD_TMP = ".tmp"
PART_SUFFIX = ".part"
SIDECAR_PART_SUFFIX = ".sidecar.part"
# Bytes gathered before one write (and SHA-1 update) runs in a worker thread: big enough that
# the thread hand-off is noise, small enough to keep the memory of an upload flat.
WRITE_BATCH = 1024 * 1024
_UNSAFE = re.compile(r'[/\\?<>:*|"\x00-\x1f\x80-\x9f]')


# -- paths -------------------------------------------------------------------------------


def _nested(root: Path, owner_id: UUID | str, name_id: UUID | str, filename: str) -> Path:
    name = str(name_id)
    return root / str(owner_id) / name[0:2] / name[2:4] / filename


def sanitize_extension(ext: str) -> str:
    """An extension safe in a file name (characters that are unsafe are dropped; case kept)."""
    cleaned = _UNSAFE.sub("", ext)
    return cleaned if cleaned.startswith(".") and len(cleaned) > 1 else ""


def upload_path(media: Path, user_id: UUID | str, file_id: UUID | str, ext: str) -> Path:
    """``<media>/upload/<userId>/<id[0:2]>/<id[2:4]>/<id><ext>`` for an uploaded original."""
    return _nested(media.absolute() / UPLOAD, user_id, file_id, f"{file_id}{sanitize_extension(ext)}")


def sidecar_upload_path(media: Path, user_id: UUID | str, file_id: UUID | str) -> Path:
    """Where an uploaded XMP sidecar lives: same nesting, named after its own id."""
    return _nested(media.absolute() / UPLOAD, user_id, file_id, f"{file_id}.xmp")


def thumbnail_path(
    media: Path, owner_id: UUID | str, asset_id: UUID | str, kind: str, fmt: str, *, edited: bool = False
) -> Path:
    """``<media>/thumbs/<ownerId>/<id[0:2]>/<id[2:4]>/<id>_<kind>[_edited].<fmt>``.

    ``kind`` is ``thumbnail``, ``preview`` or ``fullsize``; ``fmt`` the configured format
    name (``webp``, ``jpeg``).
    """
    suffix = "_edited" if edited else ""
    return _nested(media.absolute() / THUMBS, owner_id, asset_id, f"{asset_id}_{kind}{suffix}.{fmt}")


def person_thumbnail_path(media: Path, owner_id: UUID | str, person_id: UUID | str) -> Path:
    return _nested(media.absolute() / THUMBS, owner_id, person_id, f"{person_id}.jpeg")


def encoded_video_path(media: Path, owner_id: UUID | str, asset_id: UUID | str) -> Path:
    return _nested(media.absolute() / ENCODED_VIDEO, owner_id, asset_id, f"{asset_id}.mp4")


def motion_video_path(media: Path, owner_id: UUID | str, asset_id: UUID | str) -> Path:
    """Where the video extracted from a motion photo lives (Immich's ``-MP.mp4``)."""
    return _nested(media.absolute() / ENCODED_VIDEO, owner_id, asset_id, f"{asset_id}-MP.mp4")


def upload_tmp_dir(media: Path) -> Path:
    return media.absolute() / UPLOAD / UPLOAD_TMP


def staging_path(media: Path, asset_id: UUID, *, sidecar: bool = False) -> Path:
    suffix = SIDECAR_PART_SUFFIX if sidecar else PART_SUFFIX
    return upload_tmp_dir(media) / f"{asset_id}{suffix}"


def parse_staging_name(name: str) -> tuple[UUID, bool] | None:
    """``(assetId, is_sidecar)`` for a staging file name, None for anything else."""
    for suffix, sidecar in ((SIDECAR_PART_SUFFIX, True), (PART_SUFFIX, False)):
        if name.endswith(suffix):
            try:
                return UUID(name[: -len(suffix)]), sidecar
            except ValueError:
                return None
    return None


# -- durable file-system operations (blocking: call them in a worker thread) ---------------


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """``mkdir -p`` whose new directories survive a crash (each new entry's parent is fsynced)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        fsync_dir(directory.parent)


def move_into_place(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` (same file system) and make the rename durable."""
    make_dirs(dst.parent)
    os.rename(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temp file beside it: readers see the old file or the
    whole new one. Raises FileNotFoundError when ``src`` is gone."""
    make_dirs(dst.parent)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.copy")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(dst.parent)


def write_atomic(dst: Path, data: bytes) -> None:
    """Write ``data`` to ``dst`` through a temp file beside it: readers see no file or the
    whole one, and a failure leaves nothing behind."""
    make_dirs(dst.parent)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(dst.parent)


def set_mtime(path: Path, mtime: datetime) -> None:
    """Set the modification time (access time = now), as Immich does with ``fileModifiedAt``."""
    os.utime(path, (datetime.now().timestamp(), mtime.timestamp()))


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def try_lock(fd: int) -> bool:
    """Take the advisory lock that marks a staging file as being written; False if held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# -- the staging writer -------------------------------------------------------------------


class StagedFile:
    """A staging file being written: bytes, SHA-1 and size, under an advisory lock.

    Owns its descriptor: the lock is held until ``close`` (or ``discard``), so the recovery
    of another process sharing the media folder leaves a live upload alone. Writes are
    gathered into ``WRITE_BATCH``-sized blocks that are hashed and written by a worker
    thread while the caller goes on receiving the next block; with at most one block in
    flight, ``write`` waits for the disk whenever the network is faster (the backpressure),
    and memory stays at two blocks. Not safe for concurrent use.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.size = 0
        self._fd: int | None = fd
        self._hash = hashlib.sha1()
        self._pending = bytearray()
        # The block being written by a worker thread, if any.
        self._inflight: trio.Event | None = None
        self._inflight_done = threading.Event()
        self._inflight_result: outcome.Outcome[None] | None = None

    @classmethod
    async def create(cls, path: Path) -> StagedFile:
        def open_locked() -> int:
            make_dirs(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            if not try_lock(fd):  # a fresh file nobody else knows: cannot happen
                os.close(fd)
                raise RuntimeError(f"staging file {path} is locked")
            return fd

        return cls(path, await trio.to_thread.run_sync(open_locked))

    @property
    def sha1(self) -> bytes:
        return self._hash.digest()

    @property
    def closed(self) -> bool:
        return self._fd is None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._pending += data
        if len(self._pending) >= WRITE_BATCH:
            await self._flush()

    async def finish(self, mtime: datetime | None = None) -> None:
        """Write what is pending, set the mtime and fsync; the file stays open and locked."""
        await self._flush()
        await self._wait_inflight()
        fd = self._require_fd()

        def sync() -> None:
            if mtime is not None:
                os.utime(fd, (datetime.now().timestamp(), mtime.timestamp()))
            os.fsync(fd)

        await trio.to_thread.run_sync(sync)

    def close(self) -> None:
        """Release the descriptor and its lock (the file stays)."""
        if self._fd is not None:
            if self._inflight is not None:
                # Only after an error or cancellation: at most one block's write to wait for.
                self._inflight_done.wait()
                self._inflight = None
            fd, self._fd = self._fd, None
            os.close(fd)

    def discard(self) -> None:
        """Close and delete. Synchronous, so that it also runs in cancelled scopes."""
        self.close()
        remove_quietly(self.path)

    async def _flush(self) -> None:
        await self._wait_inflight()
        if not self._pending:
            return
        block = bytes(self._pending)
        self._pending.clear()
        fd = self._require_fd()
        token = trio.lowlevel.current_trio_token()
        done = self._inflight = trio.Event()
        self._inflight_done.clear()

        def write_block() -> None:
            self._hash.update(block)
            view = memoryview(block)
            while view:
                written = os.write(fd, view)
                view = view[written:]

        def deliver(result: outcome.Outcome[None]) -> None:
            self._inflight_result = result
            self._inflight_done.set()
            try:
                token.run_sync_soon(done.set)
            except trio.RunFinishedError:
                pass

        trio.lowlevel.start_thread_soon(write_block, deliver)

    async def _wait_inflight(self) -> None:
        if self._inflight is None:
            return
        await self._inflight.wait()
        self._inflight = None
        result, self._inflight_result = self._inflight_result, None
        assert result is not None
        result.unwrap()

    def _require_fd(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"staging file {self.path} is closed")
        return self._fd
