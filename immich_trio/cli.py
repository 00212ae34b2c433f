"""The ``immich-trio`` command: serve, migrate, status, and adopting an Immich installation
(``adopt-dump``, ``change-media-location``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from immich_trio.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from immich_trio.reactor import SupervisorEscalation

_T = TypeVar("_T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from immich_trio.reactor import SupervisorEscalation
    from immich_trio.supervision_tree import log, serve, setup_logging

    settings = _settings()
    setup_logging(settings)
    escalations: list[SupervisorEscalation] = []
    try:
        trio.run(serve, settings)
    except* SupervisorEscalation as group:
        escalations.extend(_leaves(group))
    # A part of the tree gave up (an unsupported database, a database that never came up):
    # say why once and exit non-zero, so that a service manager shows the reason.
    for escalation in escalations:
        log.critical("cannot run: %s", escalation.error or escalation)
    return 1 if escalations else 0


def _leaves(group: BaseExceptionGroup[SupervisorEscalation]) -> list[SupervisorEscalation]:
    out: list[SupervisorEscalation] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


async def _migrate(settings: Settings) -> list[str]:
    from immich_trio.sql.embedded import run_embedded_postgres
    from immich_trio.sql.migrate import migrate_url
    from immich_trio.supervision_tree import database_url

    if settings.db_url is not None:
        return await migrate_url(settings.db_url)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_embedded_postgres, settings.embedded_db_dir.absolute())
        applied = await migrate_url(database_url(settings))
        nursery.cancel_scope.cancel()
    return applied


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    applied = trio.run(_migrate, settings)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


async def _with_database(settings: Settings, work: Callable[[str], Awaitable[_T]]) -> _T:
    """Run ``work`` with the URL of the configured database (the embedded one started for it)."""
    from immich_trio.sql.embedded import run_embedded_postgres
    from immich_trio.supervision_tree import database_url

    if settings.db_url is not None:
        return await work(settings.db_url)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_embedded_postgres, settings.embedded_db_dir.absolute())
        result = await work(database_url(settings))
        nursery.cancel_scope.cancel()
    return result


def cmd_adopt_dump(args: argparse.Namespace) -> int:
    from immich_trio.sql.adopt_restore import AdoptFailed, adopt_dump
    from immich_trio.sql.embedded import bin_path
    from immich_trio.sql.immich_database import UnsupportedImmichDatabase

    settings = _settings()
    dump = Path(args.dump).absolute()

    async def work(url: str) -> list[str]:
        return await adopt_dump(url, dump, bin_path() / "psql", replace=args.replace)

    try:
        applied = trio.run(_with_database, settings, work)
    except (AdoptFailed, UnsupportedImmichDatabase) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"restored {dump.name}; our migrations applied: " + (", ".join(applied) or "none"))
    return 0


def cmd_change_media_location(args: argparse.Namespace) -> int:
    from immich_trio.sql.driver import connect
    from immich_trio.sql.media_location import change_media_location, stored_location

    settings = _settings()
    target = args.to or str(settings.media_location.absolute())

    async def work(url: str) -> tuple[str, dict[str, int]]:
        conn = await connect(url, autocommit=True)
        try:
            source = args.source or await stored_location(conn) or "/data"
            return source, await change_media_location(conn, source, target)
        finally:
            with trio.CancelScope(shield=True):
                await conn.close()

    try:
        source, changed = trio.run(_with_database, settings, work)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"stored paths moved from {source} to {target}: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    return 0


def render_tree(node: dict[str, Any], prefix: str = "", last: bool = True, root: bool = True) -> list[str]:
    """One line per node: name, kind, state, restarts, inbox, counters, last error."""
    parts = [f"{node['name']} [{node.get('kind', '?')}] {node.get('state', '?')}"]
    if node.get("restarts"):
        parts.append(f"restarts={node['restarts']}")
    inbox = node.get("inbox")
    if inbox:
        parts.append(f"inbox={inbox['depth']}/{inbox['capacity']} peak={inbox['peak']}")
    if node.get("kind") == "actor":
        parts.append(f"handled={node.get('handled', 0)} failed={node.get('failed', 0)} in_flight={node.get('in_flight', 0)}")
    error = node.get("last_error")
    if error:
        parts.append(f"last_error={error['type']}: {error['message']} at {error['timestamp']}")
    branch = "" if root else ("└── " if last else "├── ")
    lines = [prefix + branch + " ".join(parts)]
    children = node.get("children") or []
    child_prefix = prefix if root else prefix + ("    " if last else "│   ")
    for i, child in enumerate(children):
        lines.extend(render_tree(child, child_prefix, i == len(children) - 1, root=False))
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    url = (args.url or os.environ.get("IMMICH_INSTANCE_URL") or "").rstrip("/")
    key = args.api_key or os.environ.get("IMMICH_API_KEY")
    if not url or not key:
        print("status needs --url and --api-key (or IMMICH_INSTANCE_URL and IMMICH_API_KEY)", file=sys.stderr)
        return 2
    if not url.endswith("/api"):
        url += "/api"
    request = urllib.request.Request(url + "/reactor/status", headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            tree = json.load(response)
    except urllib.error.HTTPError as exc:
        print(f"{exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(tree, indent=2))
        return 0
    for node in tree.get("supervisors", []):
        print("\n".join(render_tree(node)))
    database = tree.get("database")
    if database:
        print("database pool: " + " ".join(f"{k}={v}" for k, v in database.items()))
    for queue, counts in (tree.get("queues") or {}).items():
        print(f"queue {queue}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="immich-trio", description="A drop-in Immich server on Trio.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="start the server (embedded PostgreSQL unless DB_URL is set)").set_defaults(fn=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations and exit").set_defaults(fn=cmd_migrate)
    adopt = sub.add_parser(
        "adopt-dump",
        help="restore a dump of an Immich database (.sql or .sql.gz) into this server's database, then migrate",
    )
    adopt.add_argument("dump", help="the dump file (Immich's backups/*.sql.gz or a pg_dump in plain SQL)")
    adopt.add_argument("--replace", action="store_true", help="drop and recreate the database first")
    adopt.set_defaults(fn=cmd_adopt_dump)
    move = sub.add_parser(
        "change-media-location",
        help="rewrite the media prefix of stored paths (as immich-admin change-media-location)",
    )
    move.add_argument("--from", dest="source", help="the old prefix (default: the recorded MediaLocation, else /data)")
    move.add_argument("--to", help="the new prefix (default: IMMICH_MEDIA_LOCATION)")
    move.set_defaults(fn=cmd_change_media_location)
    status = sub.add_parser("status", help="print the supervision tree of a running server")
    status.add_argument("--url", help="server URL (or IMMICH_INSTANCE_URL)")
    status.add_argument("--api-key", help="an admin API key with 'all' (or IMMICH_API_KEY)")
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    status.set_defaults(fn=cmd_status)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
