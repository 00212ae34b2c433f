"""Every function that changes a row the credential cache holds publishes the change.

The cache (``sql/credential_cache.py``) keeps sessions, API keys and their user rows (with
``user_metadata``'s license) in memory; it is exact only if each write to those tables tells
every process. This test reads the package's source: a function that runs a statement
updating or deleting (or upserting) rows of ``"user"``, ``user_metadata``, ``session`` or
``api_key`` must call ``publish_credentials_changed``. A plain INSERT is exempt: a new row
was never cached, and failed look-ups are not remembered.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import immich_trio

PACKAGE = Path(immich_trio.__file__).parent
WRITE = re.compile(
    r'\b(UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+("user"|(?:user_metadata|session|api_key)\b)', re.IGNORECASE
)
PUBLISH = "publish_credentials_changed"
# Known write sites: the scan must find at least these (so it cannot pass by finding nothing).
KNOWN = {
    "sql/sessions.py:delete_session",
    "sql/sessions.py:delete_other_sessions",
    "sql/sessions.py:set_pin_expires",
    "sql/sessions.py:lock_all_sessions",
    "sql/api_keys.py:update_api_key",
    "sql/api_keys.py:delete_api_key",
    "sql/users.py:update_user",
    "sql/users.py:set_metadata",
    "sql/authentication.py:set_password",
    "sql/credentials.py:touch_session",
    "sql/assets/upload.py:add_quota_usage",
    "sql/trash.py:delete_asset",
}


def _is_cached_write(text: str) -> bool:
    for match in WRITE.finditer(text):
        if not match.group(1).upper().startswith("INSERT") or "ON CONFLICT" in text[match.end():].upper():
            return True
    return False


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            constants[stmt.targets[0].id] = " ".join(_strings(stmt.value))
    return constants


def writing_functions() -> dict[str, bool]:
    """``module:function`` of each function that writes a cached table -> whether it publishes."""
    found: dict[str, bool] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts or path.name == "credential_cache.py":
            continue
        tree = ast.parse(path.read_text())
        constants = _module_constants(tree)
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            texts = _strings(func) + [
                constants[n.id] for n in ast.walk(func) if isinstance(n, ast.Name) and n.id in constants
            ]
            if any(_is_cached_write(text) for text in texts):
                calls = {
                    n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
                    for n in ast.walk(func) if isinstance(n, ast.Call)
                }
                found[f"{path.relative_to(PACKAGE).as_posix()}:{func.name}"] = PUBLISH in calls
    return found


def test_every_write_to_a_cached_table_publishes_the_change() -> None:
    found = writing_functions()
    assert KNOWN <= set(found), f"the scan missed known write sites: {sorted(KNOWN - set(found))}"
    silent = sorted(name for name, publishes in found.items() if not publishes)
    assert silent == [], f"these change cached rows without {PUBLISH}(conn, user_id): {silent}"


def test_the_scan_sees_an_unpublished_write() -> None:
    assert _is_cached_write('UPDATE "user" SET name = %s WHERE id = %s')
    assert _is_cached_write("DELETE FROM session WHERE id = %s")
    assert _is_cached_write('INSERT INTO user_metadata ("userId") VALUES (%s) ON CONFLICT DO UPDATE SET value = 1')
    assert not _is_cached_write('INSERT INTO session (token) VALUES (%s)')
    assert not _is_cached_write('UPDATE "user_x" SET a = 1')
