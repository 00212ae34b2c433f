"""The media folder's prefix in stored paths (Immich's ``immich-admin change-media-location``).

Immich stores absolute paths: ``asset."originalPath"``, ``asset_file.path``,
``person."thumbnailPath"`` and ``user."profileImagePath"`` start with the media location the
server had (``/data`` in Immich's container images), and ``system_metadata`` key
``MediaLocation`` remembers it. Moving the folder means rewriting that prefix, once, in one
transaction, on those four columns, as Immich's tool does; we also record the new location in
``MediaLocation`` (what Immich's storage service does at its next start)."""

from __future__ import annotations

import json
import re
from typing import Any

from psycopg.types.json import Jsonb

from .driver import TrioConnection

MEDIA_LOCATION_KEY = "MediaLocation"

# (table, column) of every stored path Immich's tool rewrites.
PATH_COLUMNS = (
    ("asset", "originalPath"),
    ("asset_file", "path"),
    ("person", "thumbnailPath"),
    ("user", "profileImagePath"),
)

_SAMPLE = """
SELECT p FROM (
    (SELECT "originalPath" AS p FROM asset LIMIT 1)
    UNION ALL (SELECT path FROM asset_file LIMIT 1)
    UNION ALL (SELECT "thumbnailPath" FROM person WHERE "thumbnailPath" <> '' LIMIT 1)
    UNION ALL (SELECT "profileImagePath" FROM "user" WHERE "profileImagePath" <> '' LIMIT 1)
) s
"""


def _strip(folder: str) -> str:
    folder = folder.removeprefix("./")
    return folder[:-1] if folder.endswith("/") and len(folder) > 1 else folder


async def stored_location(conn: TrioConnection[Any]) -> str | None:
    """The media location recorded in ``system_metadata`` (None when none is)."""
    cur = await conn.execute(
        "SELECT value FROM system_metadata WHERE key = %s", (MEDIA_LOCATION_KEY,)
    )
    row: Any = await cur.fetchone()
    if row is None:
        return None
    value = row["value"] if isinstance(row, dict) else row[0]
    if isinstance(value, str):
        value = json.loads(value)
    location = value.get("location") if isinstance(value, dict) else None
    return str(location) if location else None


async def sample_paths(conn: TrioConnection[Any]) -> list[str]:
    cur = await conn.execute(_SAMPLE)
    return [str(r["p"] if isinstance(r, dict) else r[0]) for r in await cur.fetchall() if r]


async def change_media_location(
    conn: TrioConnection[Any], source: str, target: str
) -> dict[str, int]:
    """Rewrite the ``source`` prefix of every stored path to ``target`` in one transaction;
    return the rows changed per column. ``target`` must be absolute."""
    source, target = _strip(source), _strip(target)
    if not target.startswith("/"):
        raise ValueError("The new media location must be an absolute path")
    pattern = "^" + re.escape(source)
    changed: dict[str, int] = {}
    async with conn.transaction():
        for table, column in PATH_COLUMNS:
            # The identifiers are constants of this module, never input.
            query = (
                f'UPDATE "{table}" SET "{column}" = regexp_replace("{column}", %(pattern)s, %(target)s)'
                f' WHERE "{column}" ~ %(pattern)s'
            )
            cur = await conn.execute(query.encode("utf-8"), {"pattern": pattern, "target": target})
            changed[f"{table}.{column}"] = cur.rowcount
        await conn.execute(
            "INSERT INTO system_metadata (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (MEDIA_LOCATION_KEY, Jsonb({"location": target})),
        )
    return changed


async def location_mismatch(conn: TrioConnection[Any], media_location: str) -> str | None:
    """Why the stored paths will not be found under ``media_location``, or None when they will.

    Only when the recorded ``MediaLocation`` differs from ours *and* stored paths lie outside
    our folder: a folder mounted at the same place under another name is left alone."""
    stored = await stored_location(conn)
    current = _strip(media_location)
    if stored is None or _strip(stored) == current:
        return None
    outside = [p for p in await sample_paths(conn) if not p.startswith(current + "/")]
    if not outside:
        return None
    return (
        f"The database's media location is {stored} (stored paths such as {outside[0]}), but"
        f" IMMICH_MEDIA_LOCATION is {current}: its files will not be found. If the folder moved,"
        f" run once: immich-trio change-media-location --from {stored} --to {current}"
    )
