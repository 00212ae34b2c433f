"""The ``immich-admin`` command: Immich's administration commands, with Immich's texts, run
on the configured database (``DB_URL`` or the embedded PostgreSQL, as the server)."""

from __future__ import annotations

import argparse
import base64
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import psycopg
import trio

from immich_trio import IMMICH_VERSION_STRING, sysconfig
from immich_trio.cli import _settings, _with_database
from immich_trio.crypto import hash_password
from immich_trio.http import maintenance_token
from immich_trio.http.dto import converter
from immich_trio.http.dto.users import user_admin_dto
from immich_trio.node_inspect import inspect
from immich_trio.sql import admin_commands as q
from immich_trio.sql import events, maintenance
from immich_trio.sql import users as users_q
from immich_trio.sql.driver import TrioConnection, connect
from immich_trio.sql.media_location import change_media_location, sample_paths

Conn = TrioConnection[Any]
Command = Callable[[Conn, argparse.Namespace], Awaitable[int]]

DEFAULT_EXTERNAL_DOMAIN = "https://my.immich.app"
# Immich's ``ErrorMessages.SchemaDrift`` (constants.ts), the header of schema-check's drift list.
UNABLE_TO_DEBUG = "Unable to debug migrations"
SCHEMA_DRIFT = "Detected schema drift. For more information, see https://docs.immich.app/errors#schema-drift"
_DATE_KEYS = frozenset({"profileChangedAt", "createdAt", "deletedAt", "updatedAt", "activatedAt"})


def _ask(question: str) -> str:
    """One answer: from the terminal with the question shown, else the next line of stdin."""
    if sys.stdin.isatty():
        return input(f"? {question} ")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _random_password() -> str:
    """24 random bytes as base64 without its non-word characters, as Immich makes one."""
    return re.sub(r"\W", "", base64.b64encode(secrets.token_bytes(24)).decode())


def _node_dates(value: Any) -> Any:
    """The DTO as Immich's objects hold it: dates as dates (printed bare by ``console.dir``)."""
    if isinstance(value, dict):
        return {k: _date(v) if k in _DATE_KEYS else _node_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_node_dates(v) for v in value]
    return value


def _date(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def list_users(conn: Conn, args: argparse.Namespace) -> int:
    rows = await users_q.list_users(conn, with_deleted=True)
    users = [_node_dates(converter.unstructure(user_admin_dto(row))) for row in rows]
    print(inspect(users))
    return 0


async def reset_admin_password(conn: Conn, args: argparse.Namespace) -> int:
    admin = await q.get_admin(conn)
    if admin is None:
        print("Error: Admin account does not exist", file=sys.stderr)
        print("Unable to reset admin password", file=sys.stderr)
        return 1
    print(
        f"Found Admin:\n- ID={admin['id']}\n- OAuth ID={admin['oauthId']}\n"
        f"- Email={admin['email']}\n- Name={admin['name']}"
    )
    provided = _ask("Please choose a new password (optional)")
    password = provided or _random_password()
    hashed = await trio.to_thread.run_sync(hash_password, password)
    async with conn.transaction():
        await users_q.update_user(conn, admin["id"], {"password": hashed})
    if provided:
        print("The admin password has been updated.")
    else:
        print(f"The admin password has been updated to:\n{password}")
    return 0


async def _set_admin(conn: Conn, email: str, is_admin: bool) -> bool:
    async with conn.transaction():
        user_id = await q.id_by_email(conn, email)
        if user_id is None:
            return False
        await users_q.update_user(conn, user_id, {"isAdmin": is_admin})
    return True


async def grant_admin(conn: Conn, args: argparse.Namespace) -> int:
    email = args.email or _ask("Please enter the user email: ")
    if not await _set_admin(conn, email, True):
        print("Error: User does not exist\nUnable to grant admin access to user", file=sys.stderr)
        return 1
    print("Admin access has been granted to", email)
    return 0


async def revoke_admin(conn: Conn, args: argparse.Namespace) -> int:
    email = args.email or _ask("Please enter the user email: ")
    if not await _set_admin(conn, email, False):
        print("Error: User does not exist\nUnable to revoke admin access from user", file=sys.stderr)
        return 1
    print("Admin access has been revoked from", email)
    return 0


def _config_switch(section: str, enabled: bool, message: str) -> Command:
    async def run(conn: Conn, args: argparse.Namespace) -> int:
        async with conn.transaction():
            config = await sysconfig.load(conn)
            config[section]["enabled"] = enabled
            await sysconfig.save(conn, config)
            await events.publish_to_all(conn, "on_config_update")
        print(message)
        return 0

    return run


async def enable_maintenance_mode(conn: Conn, args: argparse.Namespace) -> int:
    """Turn it on with a new secret (or keep the current one); print the login link."""
    async with conn.transaction():
        state = await maintenance.get_state(conn)
        secret = state.get("secret") if state.get("isMaintenanceMode") else None
        if not isinstance(secret, str):
            secret = maintenance_token.new_secret()
            await maintenance.set_state(conn, {"isMaintenanceMode": True, "secret": secret})
        config = await sysconfig.load(conn)
    domain = config["server"].get("externalDomain") or DEFAULT_EXTERNAL_DOMAIN
    now = int(time.time())
    token = maintenance_token.sign(secret, {"username": "cli-admin", "iat": now, "exp": now + 4 * 3600})
    print("Maintenance mode has been enabled.")
    print(f"{domain}/maintenance?token={token}")
    return 0


async def disable_maintenance_mode(conn: Conn, args: argparse.Namespace) -> int:
    async with conn.transaction():
        state = await maintenance.get_state(conn)
        if state.get("isMaintenanceMode"):
            await maintenance.set_state(conn, {"isMaintenanceMode": False})
    print("Maintenance mode has been disabled.")
    return 0


async def change_location(conn: Conn, args: argparse.Namespace) -> int:
    current = str(_settings().media_location.absolute())

    async def show_samples(hint: str = "") -> None:
        paths = await sample_paths(conn)
        if paths:
            lines = "".join(f"  - {p}\n" for p in paths)
            print(f"\n  Examples from the database{f' ({hint})' if hint else ''}:\n{lines}")

    await show_samples()
    old = args.source or _ask(f"Enter the previous value of IMMICH_MEDIA_LOCATION: [{current}]") or current
    new = args.to or _ask(f"Enter the new value of IMMICH_MEDIA_LOCATION: [{current}]") or current
    source = old.removeprefix("./")
    if not new.startswith("/"):
        print("Error: Target media location must be an absolute path", file=sys.stderr)
        print("Unable to update database file paths.", file=sys.stderr)
        return 1
    print(f'\n  Previous value: {old}\n  Current value:  {new}\n\n  Changing  from "{source}/*" to "{new}/*"\n')
    confirmed = args.yes or (_ask("Do you want to proceed? [Y/n]") or "y").lower() in ("y", "yes")
    if confirmed:
        await change_media_location(conn, source, new)
        print(
            "\n  Matching database file paths were updated successfully! 🎉\n\n"
            f"  You may now set IMMICH_MEDIA_LOCATION={new} and restart!\n\n"
            "  (please remember to update applicable volume mounts e.g\n"
            "    services:\n      immich-server:\n        ...\n        volumes:\n"
            "          - ${UPLOAD_LOCATION}:/data\n        ...\n  )\n"
        )
    else:
        print("\n  No rows were updated\n")
    await show_samples("after")
    return 0


async def schema_check(conn: Conn, args: argparse.Namespace) -> int:
    # As Immich's command: the whole report is read first; a failure prints the error and
    # "Unable to debug migrations" on stderr, and nothing else.
    try:
        report = await q.migration_report(conn)
        drift = await q.schema_drift(conn)
    except psycopg.Error as exc:
        print(exc, file=sys.stderr)
        print(UNABLE_TO_DEBUG, file=sys.stderr)
        return 1
    if all(m.status == "applied" for m in report):
        print("Migrations are up to date")
    else:
        print("Migration issues detected:")
        for m in report:
            if m.status == "deleted":
                print(f"  - {m.name} was applied, but the file no longer exists on disk")
            elif m.status == "missing":
                print(f"  - {m.name} exists on disk, but has not been applied to the database")
    if not drift:
        print("\nNo schema drift detected")
        return 0
    print(f"\n{SCHEMA_DRIFT}")
    for item in drift:
        print(f"  - {item.type}: {item.human}")
    statements = "\n".join(line for item in drift for line in item.sql)
    print(
        "\n\nThe below SQL is automatically generated and may be helpful for resolving drift."
        f" ** Use at your own risk! **\n\n```sql\n{statements}\n```\n"
    )
    return 1


def version(args: argparse.Namespace) -> int:
    print(IMMICH_VERSION_STRING)
    return 0


COMMANDS: dict[str, tuple[str, Command]] = {
    "list-users": ("List Immich users", list_users),
    "reset-admin-password": ("Reset the admin password", reset_admin_password),
    "grant-admin": ("Grant admin privileges to a user (by email)", grant_admin),
    "revoke-admin": ("Revoke admin privileges from a user (by email)", revoke_admin),
    "enable-password-login": (
        "Enable password login", _config_switch("passwordLogin", True, "Password login has been enabled.")),
    "disable-password-login": (
        "Disable password login", _config_switch("passwordLogin", False, "Password login has been disabled.")),
    "enable-oauth-login": ("Enable OAuth login", _config_switch("oauth", True, "OAuth login has been enabled.")),
    "disable-oauth-login": ("Disable OAuth login", _config_switch("oauth", False, "OAuth login has been disabled.")),
    "enable-maintenance-mode": (
        "Enable maintenance mode or regenerate the maintenance token", enable_maintenance_mode),
    "disable-maintenance-mode": ("Disable maintenance mode", disable_maintenance_mode),
    "change-media-location": ("Change database file paths to align with a new media location", change_location),
    "schema-check": ("Verify database migrations and check for schema drift", schema_check),
}  # fmt: skip


async def _run(command: Command, args: argparse.Namespace, url: str) -> int:
    conn = await connect(url, autocommit=True)
    try:
        return await command(conn, args)
    finally:
        with trio.CancelScope(shield=True):
            await conn.close()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="immich-admin", description="Immich's administration commands.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        if name in ("grant-admin", "revoke-admin"):
            cmd.add_argument("email", nargs="?", help="the user's e-mail (asked for when left out)")
        if name == "change-media-location":
            cmd.add_argument("--from", dest="source", help="the previous IMMICH_MEDIA_LOCATION (asked for)")
            cmd.add_argument("--to", help="the new IMMICH_MEDIA_LOCATION (asked for)")
            cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("version", help="Print Immich version")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "version":
        return version(args)
    settings = _settings()
    sysconfig.set_process_defaults(sysconfig.defaults_for(settings))
    _, command = COMMANDS[args.command]

    async def work(url: str) -> int:
        return await _run(command, args, url)

    return trio.run(_with_database, settings, work)


if __name__ == "__main__":
    raise SystemExit(main())
