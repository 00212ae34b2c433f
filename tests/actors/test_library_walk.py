"""The library walk: which files a scan takes (Immich's crawl rules), in bounded batches,
through symlink loops, unreadable folders and names that are not UTF-8."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from immich_trio.actors.library_scanner import walk
from immich_trio.actors.library_scanner.walk import Exclusions, batches, takes, walk_files

DEFAULTS = ["**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**", "**/.stversions/**", "**/.stfolder/**"]


def _tree(root: Path) -> None:
    for rel in ("a.jpg", "B.JPG", "sub/deep/c.png", "sub/clip.MP4", "@eaDir/thumb.jpg", "x/#recycle/old.jpg",
                "._a.jpg", ".hidden/h.jpg", ".h.jpg", "notes.txt", "noext", "sub/d.heic"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    os.symlink(root, root / "loop")  # a folder link back to the root: never followed
    os.symlink(root / "a.jpg", root / "link.jpg")  # a link to a file: taken, as a file
    (root.parent / "outside").mkdir()
    os.symlink(root.parent / "outside", root / "elsewhere")
    bad = os.fsencode(str(root)) + b"/\xff\xfe.jpg"
    with open(bad, "wb") as f:
        f.write(b"x")


def test_walk_takes_immich_media_and_skips_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _tree(root)
    found = sorted(walk_files([str(root)], Exclusions(DEFAULTS)))
    assert found == sorted(
        f"{root}/{rel}" for rel in ("a.jpg", "B.JPG", "sub/deep/c.png", "sub/clip.MP4", "link.jpg", "sub/d.heic")
    )


def test_exclusion_patterns_are_globs(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    _tree(root)
    found = sorted(walk_files([str(root)], Exclusions(["**/sub/**", "**/b.jpg"])))
    # ``**/b.jpg`` matches ``B.JPG`` (case-insensitive, as Immich's crawl); ``@eaDir`` is no longer excluded
    assert found == sorted(f"{root}/{rel}" for rel in ("a.jpg", "@eaDir/thumb.jpg", "x/#recycle/old.jpg", "link.jpg"))


def test_batches_are_bounded_and_complete(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(25):
        (root / f"{i:03}.jpg").write_bytes(b"x")
    pages = list(batches(walk_files([str(root)], Exclusions([])), 10))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sorted(p for page in pages for p in page) == sorted(f"{root}/{i:03}.jpg" for i in range(25))


def test_unreadable_or_vanished_roots_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "a.jpg").write_bytes(b"x")
    found = list(walk_files([str(tmp_path / "gone"), str(root)], Exclusions([])))
    assert found == [f"{root}/ok/a.jpg"]


def test_watch_matcher_follows_the_scan_rules() -> None:
    exclusions = Exclusions(DEFAULTS)
    assert takes("/lib/a.JPG", exclusions)
    assert not takes("/lib/@eaDir/a.jpg", exclusions)
    assert not takes("/lib/._a.jpg", exclusions)
    assert not takes("/lib/.hidden/a.jpg", exclusions)
    assert not takes("/lib/a.txt", exclusions)


def test_patterns_match_as_picomatch_and_the_text_prefilter_is_exact() -> None:
    exclusions = Exclusions(["**/*.{tmp,bak}", "**/[Tt]rash/**", "**/@eaDir/**", "**/._*"])
    assert exclusions.excludes("/lib/x.BAK") and exclusions.excludes("/lib/a/b.tmp")
    assert exclusions.excludes("/lib/trash/a.jpg") and exclusions.excludes("/lib/Trash/a.jpg")
    assert exclusions.excludes("/lib/@EADIR/a.jpg") and exclusions.excludes("/lib/sub/._a.jpg")
    assert not exclusions.excludes("/lib/a.jpg") and not exclusions.excludes("/lib/a_._b.jpg")
    assert exclusions.prunes("/lib/@eaDir") and not exclusions.prunes("/lib/eaDir")


def test_an_unreadable_folder_is_skipped_and_the_walk_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "lib"
    for rel in ("locked/a.jpg", "open/b.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path: str) -> Any:
        if path.endswith("/locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walk.os, "scandir", scandir)
    assert list(walk_files([str(root)], Exclusions([]))) == [f"{root}/open/b.jpg"]
