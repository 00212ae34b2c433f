"""The house rules that tools can check: ruff (with the ASYNC rules), mypy in strict mode, and
that nothing in the repository reads a file outside it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--quiet", "immich_trio", "tests", "benchmarks", "tools")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_package() -> None:
    result = _run("mypy", "immich_trio")
    assert result.returncode == 0, result.stdout + result.stderr


# The repository is self-contained: nothing under these folders reads a file beside it.
SELF_CONTAINED = ("immich_trio", "tests", "benchmarks", "tools", "scripts")
TEXT_SUFFIXES = {".py", ".sh", ".json", ".toml", ".sql", ".md", ".txt", ".cfg", ".ini", ".yaml"}
# The one allowed reference outside: where Immich's built web app is looked for by default.
ALLOWED = {("tests/conftest.py", 'WEB_BUILD_DEFAULT = "../shared/immich-web/www"')}
_UP_STRING = re.compile(r"""["'](?:\.\./)+""")
_SHARED_JOIN = re.compile(r"""/\s*["']shared["']""")
_PARENTS = re.compile(r"\.parents\[(\d+)\]")
_PARENT = re.compile(r"\.parent\b")


def _climbs_out(line: str, depth: int) -> bool:
    """Whether a path built from ``__file__`` on this line lands above the repository root."""
    if "__file__" not in line:
        return "ROOT.parent" in line or 'ROOT / ".."' in line
    tail = line[line.index("__file__") :]
    if (m := _PARENTS.search(tail)) is not None:
        return int(m.group(1)) > depth
    return len(_PARENT.findall(tail)) - 1 > depth


# The folder beside the repository that nothing may read (spelled so this file does not match).
SHARED_FOLDER = "../" + "shared"


def outside_references(root: Path) -> list[str]:
    found = []
    for top in SELF_CONTAINED:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            if rel == "tests/test_static_checks.py":
                continue
            depth = len(path.relative_to(root).parts) - 1  # parents[depth] is the root
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if any(rel == f and text in line for f, text in ALLOWED):
                    continue
                if (
                    SHARED_FOLDER in line
                    or _SHARED_JOIN.search(line)
                    or _UP_STRING.search(line)
                    or _climbs_out(line, depth)
                ):
                    found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_nothing_reads_files_outside_the_repository() -> None:
    assert outside_references(ROOT) == []


def test_outside_reference_check_catches_each_form(tmp_path: Path) -> None:
    (tmp_path / "tests" / "http").mkdir(parents=True)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tests" / "http" / "test_x.py").write_text(
        f'A = Path(__file__).parents[3] / "{SHARED_FOLDER[3:]}"\n'
        "B = Path(__file__).resolve().parents[2]\n"  # the root itself: allowed
        "C = Path(__file__).parent.parent.parent.parent\n"
        f'D = "{SHARED_FOLDER}/test-assets"\n'
    )
    (tmp_path / "tools" / "gen.py").write_text(
        "ROOT = Path(__file__).resolve().parents[1]\nX = ROOT.parent / 'other'\n"
    )
    found = [entry.split(": ")[0] for entry in outside_references(tmp_path)]
    assert found == ["tests/http/test_x.py:1", "tests/http/test_x.py:3",
                     "tests/http/test_x.py:4", "tools/gen.py:2"]
