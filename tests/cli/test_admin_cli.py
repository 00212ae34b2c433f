"""``immich-admin``: each command run in-process against the test database, as an operator
runs it; the output is Immich's and the database holds the change."""

from __future__ import annotations

import importlib
import io
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from immich_trio import admin_cli
from immich_trio.http import maintenance_token

Sql = Callable[..., list[tuple[Any, ...]]]
ADMIN = "11111111-1111-4111-8111-111111111111"
USER = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DB_URL", db_url)
    monkeypatch.setenv("IMMICH_MEDIA_LOCATION", str(tmp_path))
    monkeypatch.delenv("IMMICH_LOG_LEVEL", raising=False)
    return tmp_path


@pytest.fixture
def people(sql: Sql, env: Path) -> None:
    sql(
        'INSERT INTO "user" (id, email, name, "isAdmin", password, "storageLabel", "createdAt")'
        " VALUES (%s, 'admin@example.com', 'Admin', true, 'x', 'admin', '2024-01-01T00:00:00Z'),"
        " (%s, 'user@example.com', 'Someone', false, 'y', NULL, '2024-02-01T00:00:00Z')",
        (ADMIN, USER),
    )


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = admin_cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_prints_immichs_version(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, monkeypatch, "version") == (0, "v3.1.0\n", "")


def test_list_users_prints_every_user_as_node_does(
    people: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "list-users")
    assert code == 0
    assert out.startswith("[\n  {\n    id: '22222222-2222-4222-8222-222222222222',\n")  # newest first
    assert "    email: 'admin@example.com',\n" in out
    assert "    storageLabel: 'admin',\n" in out
    assert "    isAdmin: true,\n" in out
    assert "    createdAt: 2024-01-01T00:00:00.000Z,\n" in out
    assert "    license: null\n  }\n]\n" in out
    assert out.count("  {\n") == 2


def test_reset_admin_password_with_a_given_password(
    people: None, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "reset-admin-password", stdin="new-secret-pw\n")
    assert code == 0
    assert out == (
        f"Found Admin:\n- ID={ADMIN}\n- OAuth ID=\n- Email=admin@example.com\n- Name=Admin\n"
        "The admin password has been updated.\n"
    )
    [(hashed,)] = sql('SELECT password FROM "user" WHERE id = %s', (ADMIN,))
    assert bcrypt.checkpw(b"new-secret-pw", hashed.encode())
    [(other,)] = sql('SELECT password FROM "user" WHERE id = %s', (USER,))
    assert other == "y"


def test_reset_admin_password_generates_and_prints_one(
    people: None, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "reset-admin-password", stdin="\n")
    assert code == 0
    head, password = out.rstrip("\n").rsplit("\n", 1)
    assert head.endswith("The admin password has been updated to:")
    assert re.fullmatch(r"\w{28,32}", password)
    [(hashed,)] = sql('SELECT password FROM "user" WHERE id = %s', (ADMIN,))
    assert bcrypt.checkpw(password.encode(), hashed.encode())


def test_reset_admin_password_without_an_admin(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, monkeypatch, "reset-admin-password")
    assert (code, out) == (1, "")
    assert err.endswith("Unable to reset admin password\n")


def test_grant_and_revoke_admin(
    people: None, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, monkeypatch, "grant-admin", "user@example.com") == (
        0, "Admin access has been granted to user@example.com\n", ""
    )
    assert sql('SELECT "isAdmin" FROM "user" WHERE id = %s', (USER,)) == [(True,)]
    # the e-mail may also come from the prompt
    assert run(capsys, monkeypatch, "revoke-admin", stdin="user@example.com\n") == (
        0, "Admin access has been revoked from user@example.com\n", ""
    )
    assert sql('SELECT "isAdmin" FROM "user" WHERE id = %s', (USER,)) == [(False,)]
    code, out, err = run(capsys, monkeypatch, "grant-admin", "nobody@example.com")
    assert (code, out) == (1, "")
    assert err == "Error: User does not exist\nUnable to grant admin access to user\n"


@pytest.mark.parametrize(
    ("command", "section", "enabled", "message"),
    [
        ("disable-password-login", "passwordLogin", False, "Password login has been disabled."),
        ("enable-oauth-login", "oauth", True, "OAuth login has been enabled."),
    ],
)
def test_login_switches_change_the_stored_config(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str, section: str, enabled: bool, message: str,
) -> None:
    assert run(capsys, monkeypatch, command) == (0, message + "\n", "")
    [(stored,)] = sql("SELECT value FROM system_metadata WHERE key = 'system-config'")
    assert stored[section]["enabled"] is enabled
    back = command.replace("disable", "enable") if command.startswith("disable") else command.replace("enable", "disable")
    run(capsys, monkeypatch, back)
    [(stored,)] = sql("SELECT value FROM system_metadata WHERE key = 'system-config'")
    assert section not in stored  # back to the default, so nothing differs


def test_maintenance_mode_on_prints_a_login_link_then_off(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "enable-maintenance-mode")
    assert code == 0
    first, link = out.splitlines()
    assert first == "Maintenance mode has been enabled."
    match = re.fullmatch(r"https://my\.immich\.app/maintenance\?token=(.+)", link)
    assert match
    [(state,)] = sql("SELECT value FROM system_metadata WHERE key = 'maintenance-mode'")
    assert state["isMaintenanceMode"] is True
    payload = maintenance_token.verify(state["secret"], match.group(1))
    assert payload is not None and payload["username"] == "cli-admin"
    assert run(capsys, monkeypatch, "disable-maintenance-mode") == (0, "Maintenance mode has been disabled.\n", "")
    [(state,)] = sql("SELECT value FROM system_metadata WHERE key = 'maintenance-mode'")
    assert state == {"isMaintenanceMode": False}


def test_change_media_location_rewrites_stored_paths(
    people: None, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql('UPDATE "user" SET "profileImagePath" = %s WHERE id = %s', ("/data/profile/a/b.jpg", USER))
    code, out, _ = run(capsys, monkeypatch, "change-media-location", stdin="/data\n/srv/photos\ny\n")
    assert code == 0
    assert '  Changing  from "/data/*" to "/srv/photos/*"' in out
    assert "Matching database file paths were updated successfully! 🎉" in out
    assert "  Examples from the database (after):\n  - /srv/photos/profile/a/b.jpg\n" in out
    assert sql('SELECT "profileImagePath" FROM "user" WHERE id = %s', (USER,)) == [("/srv/photos/profile/a/b.jpg",)]


def test_schema_check_on_a_migrated_database(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, monkeypatch, "schema-check") == (0, "Migrations are up to date\n\nNo schema drift detected\n", "")


def test_schema_check_reports_a_dropped_column(
    env: Path, sql: Sql, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql('ALTER TABLE move_history DROP COLUMN "pathType"')
    code, out, _ = run(capsys, monkeypatch, "schema-check")
    assert code == 1
    assert '  - ColumnAdd: The column "move_history"."pathType" is missing and needs to be created\n' in out


def test_the_console_script_is_declared_and_runs_on_the_configured_database(people: None) -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    module, _, function = pyproject["project"]["scripts"]["immich-admin"].partition(":")
    assert getattr(importlib.import_module(module), function) is admin_cli.main
    # a fresh process, configured only by the environment (DB_URL) as the server is
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; sys.exit({module}.{function}())", "grant-admin", "user@example.com"],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "Admin access has been granted to user@example.com\n")
