"""Whether a folder may be an external library's import path, with Immich's messages
(library.service.ts ``validateImportPath``): used by ``POST /libraries/{id}/validate``, by
``PUT /libraries/{id}`` and by the scan, which skips invalid paths."""

from __future__ import annotations

import errno
import os
import stat as stat_mode
from pathlib import Path

IMMICH_PATH = "Cannot use media upload folder for external libraries"
NOT_A_DIRECTORY = "Not a directory"
DOES_NOT_EXIST = "Path does not exist (ENOENT)"
NOT_READABLE = "Lacking read permission for folder"

# Node's (libuv's) wording of the errors a stat meets; Immich answers ``String(error)``.
_LIBUV_TEXT = {
    errno.EACCES: "permission denied",
    errno.ELOOP: "too many symbolic links encountered",
    errno.ENOTDIR: "not a directory",
    errno.ENAMETOOLONG: "name too long",
    errno.EIO: "i/o error",
    errno.EPERM: "operation not permitted",
    errno.ESTALE: "stale file handle",
    errno.ENODEV: "no such device",
    errno.ENXIO: "no such device or address",
    errno.EOVERFLOW: "value too large for defined data type",
}


def node_error_text(exc: OSError, syscall: str, path: str) -> str:
    """``String(error)`` of a Node fs error: ``Error: ELOOP: too many symbolic links
    encountered, stat '/photos/loop'``."""
    code = errno.errorcode.get(exc.errno or 0, "UNKNOWN")
    text = _LIBUV_TEXT.get(exc.errno or 0) or (os.strerror(exc.errno).lower() if exc.errno else str(exc))
    return f"Error: {code}: {text}, {syscall} '{path}'"


def is_immich_path(path: str, media_location: Path) -> bool:
    """Whether ``path`` lies in the media folder (Immich's ``StorageCore.isImmichPath``)."""
    resolved = os.path.abspath(path).rstrip("/") + "/"
    media = os.path.abspath(media_location).rstrip("/") + "/"
    return resolved.startswith(media)


def import_path_problem(path: str, media_location: Path) -> str | None:
    """Immich's message for an import path that cannot be used, or None when it can.

    Blocking (stat and access): run it in a thread.
    """
    if is_immich_path(path, media_location):
        return IMMICH_PATH
    if not os.path.isabs(path):
        return f"Import path must be absolute, try {os.path.abspath(path)}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return DOES_NOT_EXIST
    except OSError as exc:
        return node_error_text(exc, "stat", path)
    except ValueError as exc:  # a NUL byte (the request validator refuses those first)
        return f"Error: {exc}"
    if not stat_mode.S_ISDIR(st.st_mode):
        return NOT_A_DIRECTORY
    if not os.access(path, os.R_OK):
        return NOT_READABLE
    return None
