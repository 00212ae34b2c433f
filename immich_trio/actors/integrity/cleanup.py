"""Acting on reports (``DELETE /admin/integrity/report/{id}`` and ``IntegrityDeleteReports``),
as Immich does: a report on an asset trashes the asset; on an asset file removes the row
(its report goes with it); on an untracked path deletes the file unless something tracks it
now. Database changes run in the caller's transaction; the files to unlink are returned,
to be removed after commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from immich_trio.sql import events
from immich_trio.sql import integrity as q


async def resolve(conn: q.Conn, reports: Sequence[Mapping[str, Any]]) -> list[str]:
    """Applies ``reports``' removal; returns the untracked files to delete after commit."""
    by_asset = [r for r in reports if r.get("assetId")]
    by_file = [r for r in reports if not r.get("assetId") and r.get("fileAssetId")]
    by_path = [r for r in reports if not r.get("assetId") and not r.get("fileAssetId")]
    if by_asset:
        trashed = await q.trash_assets(conn, [str(r["assetId"]) for r in by_asset])
        owners: dict[str, list[str]] = {}
        for row in trashed:
            owners.setdefault(str(row["ownerId"]), []).append(str(row["id"]))
        for owner, ids in owners.items():
            await events.publish_ids(conn, owner, "on_asset_trash", ids)
        await q.delete_ids(conn, [str(r["id"]) for r in by_asset])
    if by_file:
        await q.delete_asset_files(conn, [str(r["fileAssetId"]) for r in by_file])
    doomed: list[str] = []
    if by_path:
        still = await q.tracked(conn, [str(r["path"]) for r in by_path])
        doomed = [str(r["path"]) for r in by_path if r["path"] not in still]
        await q.delete_ids(conn, [str(r["id"]) for r in by_path])
    return doomed
