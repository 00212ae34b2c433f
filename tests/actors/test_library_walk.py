"""The library walk: which files a scan takes (Immich's crawl rules), in bounded batches,
through symlink loops, unreadable folders and names that are not UTF-8."""

from __future__ import annotations

import os
from pathlib import Path

from immich_trio.actors.library_scanner import actor as scanner_actor
from immich_trio.actors.library_scanner.walk import Exclusions, batches, takes, walk_files
from tests.unprivileged import run_as_nobody, traversable_folder

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


def test_an_unreadable_folder_is_skipped_and_the_walk_goes_on() -> None:
    # real permissions: the walk runs as uid 65534 (root, whom the tests run as, reads anything)
    with traversable_folder() as root:
        for rel in ("locked/a.jpg", "open/b.jpg", "open/deeper/c.jpg"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"x")
        (root / "open" / "deeper").chmod(0o311)  # may be entered, not listed
        (root / "locked").chmod(0o000)
        found = run_as_nobody(lambda: sorted(walk_files([str(root)], Exclusions([]))))
        assert found == [f"{root}/open/b.jpg"]
        if os.geteuid() == 0:  # the same walk as root takes all three: the user is what differs
            assert len(list(walk_files([str(root)], Exclusions([])))) == 3


def test_the_scan_skips_an_unreadable_import_path_and_walks_the_others(tmp_path: Path) -> None:
    with traversable_folder() as base:
        for rel in ("locked/a.jpg", "open/b.jpg"):
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / rel).write_bytes(b"x")
        (base / "locked").chmod(0o300)
        paths = [str(base / "locked"), str(base / "open")]
        # as the scanner does: the import paths Immich's validation accepts, then their walk
        roots = run_as_nobody(lambda: scanner_actor._valid_roots(paths, tmp_path / "media"))
        assert roots == [str(base / "open")]
        assert run_as_nobody(lambda: list(walk_files(paths, Exclusions([])))) == [f"{base}/open/b.jpg"]
