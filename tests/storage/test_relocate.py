"""Moving an original: a rename, else a verified copy across file systems that never leaves
a wrong file behind nor removes the source before the copy is right."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from immich_trio.storage import relocate as relocate_module
from immich_trio.storage.relocate import RelocateFailed, relocate, remove_empty_dirs


@pytest.fixture
def across_file_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src: Path, dst: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(relocate_module, "move_into_place", no_rename)


def test_rename_and_refusal_to_overwrite(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.jpg", tmp_path / "x" / "y" / "a.jpg"
    src.write_bytes(b"one")
    relocate(src, dst)
    assert dst.read_bytes() == b"one" and not src.exists()
    other = tmp_path / "b.jpg"
    other.write_bytes(b"two")
    with pytest.raises(RelocateFailed):
        relocate(other, dst)
    assert dst.read_bytes() == b"one" and other.read_bytes() == b"two"


def test_copy_across_file_systems_is_verified(tmp_path: Path, across_file_systems: None) -> None:
    src, dst = tmp_path / "a.jpg", tmp_path / "lib" / "a.jpg"
    src.write_bytes(b"photo")
    with pytest.raises(RelocateFailed, match="checksum"):
        relocate(src, dst, expected_size=5, checksum=hashlib.sha1(b"other").digest())
    assert src.read_bytes() == b"photo" and not dst.exists()
    with pytest.raises(RelocateFailed, match="size"):
        relocate(src, dst, expected_size=6)
    assert src.exists() and not dst.exists()
    relocate(src, dst, expected_size=5, checksum=hashlib.sha1(b"photo").digest())
    assert dst.read_bytes() == b"photo" and not src.exists()
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == ["a.jpg"]  # no temp file left


def test_remove_empty_dirs_keeps_the_root_and_full_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.jpg").write_bytes(b"x")
    remove_empty_dirs(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["d", "d/f.jpg"]
