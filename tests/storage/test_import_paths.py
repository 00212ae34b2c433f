"""Whether a folder may be a library's import path: Immich's messages for each refusal."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from immich_trio.storage.import_paths import import_path_problem, node_error_text
from tests.unprivileged import run_as_nobody, traversable_folder


def test_a_readable_folder_is_valid(tmp_path: Path) -> None:
    assert import_path_problem(str(tmp_path), tmp_path / "media") is None


def test_refusals_carry_immich_messages(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "upload").mkdir(parents=True)
    assert import_path_problem(str(media / "upload"), media) == "Cannot use media upload folder for external libraries"
    assert import_path_problem(str(media), media) == "Cannot use media upload folder for external libraries"
    assert import_path_problem(str(tmp_path / "media2"), media) == "Path does not exist (ENOENT)"  # not inside
    assert import_path_problem("photos", media) == f"Import path must be absolute, try {Path.cwd() / 'photos'}"
    (tmp_path / "f.jpg").write_bytes(b"x")
    assert import_path_problem(str(tmp_path / "f.jpg"), media) == "Not a directory"
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    assert import_path_problem(str(loop), media) == f"Error: ELOOP: too many symbolic links encountered, stat '{loop}'"


def test_unreadable_folder_as_an_unprivileged_user() -> None:
    # the tests run as root, whom permissions do not stop: the check runs as uid 65534
    with traversable_folder() as base:
        media = base / "media"
        readable, locked, write_only = base / "readable", base / "locked", base / "write-only"
        for folder in (readable, locked, write_only):
            folder.mkdir()
        (locked / "inner").mkdir()
        locked.chmod(0o000)
        write_only.chmod(0o333)  # may be entered and written, not listed

        def problems() -> list[str | None]:
            paths = (readable, locked, write_only, locked / "inner")
            return [import_path_problem(str(p), media) for p in paths]

        assert run_as_nobody(problems) == [
            None,
            "Lacking read permission for folder",
            "Lacking read permission for folder",
            # below a folder it may not enter, the stat itself fails: Node's error, as Immich says it
            f"Error: EACCES: permission denied, stat '{locked / 'inner'}'",
        ]


def test_node_wording_of_other_errors() -> None:
    denied = OSError(errno.EACCES, "Permission denied")
    assert node_error_text(denied, "stat", "/mnt/x") == "Error: EACCES: permission denied, stat '/mnt/x'"
    stale = OSError(errno.ESTALE, "Stale file handle")
    assert node_error_text(stale, "stat", "/mnt/nfs") == "Error: ESTALE: stale file handle, stat '/mnt/nfs'"
