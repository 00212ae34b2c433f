"""The library scanner: the ``library`` queue's jobs (library.service.ts)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import attrs
import trio
from psycopg import AsyncConnection

from immich_trio.actors.dispatcher import JobResult, WallClock
from immich_trio.actors.library_scanner.walk import Exclusions, batches, media_type, walk_files
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import jobs as jobs_q
from immich_trio.sql import libraries as libraries_q
from immich_trio.sql import library_scan as q
from immich_trio.sql import trash as trash_q
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage.import_paths import import_path_problem

log = logging.getLogger(__name__)

SERVICE_NAME = "library-scanner"
HANDLER_SLOTS = 5
INBOX = 8
PAGE = 10_000
"""Immich's ``JOBS_LIBRARY_PAGINATION_SIZE``: paths per ``LibrarySyncFiles``, ids per ``LibrarySyncAssets``."""
WALK_AHEAD = 1
"""Pages the walk may read ahead of the one being checked against the database."""
CHECK_CHUNK = 2_500
"""``LibrarySyncAssets`` reads its page's rows in chunks of this many, the next read while the
files of the last are stat'ed."""
DELETE_RECHECK = 60.0
"""Seconds after which ``LibraryDelete`` looks again for a library whose assets it queued for deletion."""
JOBS = (
    JobName.LIBRARY_SCAN_QUEUE_ALL,
    JobName.LIBRARY_DELETE_CHECK,
    JobName.LIBRARY_DELETE,
    JobName.LIBRARY_SYNC_FILES_QUEUE_ALL,
    JobName.LIBRARY_SYNC_FILES,
    JobName.LIBRARY_SCAN_ASSETS_QUEUE_ALL,
    JobName.LIBRARY_SYNC_ASSETS,
    JobName.LIBRARY_REMOVE_ASSET,
)

Conn = AsyncConnection[Any]


def _stat_files(paths: Sequence[str]) -> list[q.FoundFile]:
    """The files of ``paths`` that still exist and are media (blocking: run in a thread)."""
    found = []
    for raw in paths:
        path = os.path.normpath(raw)
        kind = media_type(path)
        if kind is None:
            continue
        try:
            st = os.stat(path)
        except (OSError, ValueError) as exc:
            log.warning("library scan: cannot import %s: %s", path, exc)
            continue
        mtime = datetime.fromtimestamp(st.st_mtime_ns // 1_000_000 / 1000, UTC)
        found.append(q.FoundFile(path=path, type=kind, mtime=mtime, size=st.st_size))
    return found


@attrs.frozen(kw_only=True)
class AssetChecks:
    """What ``LibrarySyncAssets`` found for one page of assets."""

    offline: list[str]
    offline_trashed: list[str]
    online: list[str]
    online_trashed: list[str]
    changed: list[tuple[str, datetime]]


def check_assets(
    assets: q.KnownAssets, import_paths: Sequence[str], exclusions: Exclusions, into: AssetChecks | None = None
) -> AssetChecks:
    """Stat each asset's file and sort it as Immich's ``checkExistingAsset`` does, into ``into``
    (a new one when None; blocking: run in a thread). A file that cannot be stat'ed counts as
    missing."""
    checks = into or AssetChecks(offline=[], offline_trashed=[], online=[], online_trashed=[], changed=[])
    stat = os.stat
    for asset_id, path, is_offline, status, modified_ms in zip(
        assets.ids, assets.paths, assets.offline, assets.status, assets.mtimes, strict=True
    ):
        try:
            mtime_ms = stat(path).st_mtime_ns // 1_000_000
        except (OSError, ValueError):
            if not is_offline:
                (checks.offline_trashed if status == "trashed" else checks.offline).append(asset_id)
            continue
        if mtime_ms == modified_ms and not is_offline:
            continue  # the common case of a rescan: there, unchanged
        if is_offline:
            if status == "deleted":
                continue
            inside = any(path.startswith(p) for p in import_paths)
            if inside and not exclusions.excludes(path):
                (checks.online_trashed if status == "trashed" else checks.online).append(asset_id)
        else:
            checks.changed.append((asset_id, datetime.fromtimestamp(mtime_ms / 1000, UTC)))
    return checks


def _valid_roots(import_paths: Sequence[str], media: Path) -> list[str]:
    roots = []
    for path in import_paths:
        problem = import_path_problem(path, media)
        if problem is None:
            roots.append(os.path.normpath(path))
        else:
            log.warning("library scan: skipping invalid import path %s: %s", path, problem)
    return roots


class LibraryScannerActor(QueueWorker):
    """Owns the scans of external libraries; never writes into an import path.

    Inbox: ``RunJob`` for the ``library`` queue's jobs (``JOBS``).

    - ``LibraryScanQueueAll`` (the ``library.scan`` cron): ``LibraryDeleteCheck``, then a scan of
      every library. A scan is ``LibrarySyncFilesQueueAll`` then ``LibraryScanAssetsQueueAll``.
    - ``LibrarySyncFilesQueueAll {id}``: walks the valid import paths in a thread (``walk.py``,
      bounded memory) and, per page of 10,000 files, commits one ``LibrarySyncFiles`` with the
      paths that are no asset yet. Each page is its own transaction: a crash mid-walk keeps the
      pages queued, and the re-run finds those paths already imported or queues them again
      (importing is idempotent). A library deleted meanwhile stops the walk at the next page.
    - ``LibrarySyncFiles {libraryId, paths}``: stats the files and inserts them as external
      assets (path checksum), with ``AssetExtractMetadata`` (``source: upload``) for each: the
      upload pipeline from there. A deleted library fails the job, as Immich's does.
    - ``LibraryScanAssetsQueueAll {id}``: in SQL, takes offline (and trashes) the assets outside
      the import paths or inside an exclusion pattern; then queues ``LibrarySyncAssets`` per
      page of 10,000 asset ids, all pages in one statement (one snapshot, one commit).
    - ``LibrarySyncAssets``: a missing or unreadable file goes offline (and to the trash, unless
      trashed already); an offline file that is back, inside an import path and not excluded,
      comes back online (out of the trash); a changed mtime queues metadata extraction again.
    - ``LibraryDelete {id}``: trashes the library's assets and queues ``AssetDelete`` (never
      the file on disk) for each, and itself again a minute later; with no asset left, deletes
      the library row.
      ``LibraryDeleteCheck`` queues it for every soft-deleted library.
    - ``LibraryRemoveAsset {libraryId, paths}`` (the watcher's unlink): ``AssetDelete`` for each.

    Backpressure: the dispatcher claims no more than ``job.library.concurrency``; the walks and
    stats run in threads under the limiter. Errors: an unreadable folder is logged and skipped,
    a vanished file is skipped (or offline); nothing stops the actor.
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = HANDLER_SLOTS
    queue = QueueName.LIBRARY

    def __init__(self, pool: Pool, media: Path, *, now: WallClock, name: str = SERVICE_NAME, page: int = PAGE) -> None:
        super().__init__(pool, name=name)
        self._media = media
        self._now = now
        self._page = page

    async def run_job(self, job: Job) -> JobResult:
        data = job.data
        match job.name:
            case JobName.LIBRARY_SCAN_QUEUE_ALL:
                return JobResult(status="success", apply=_queue_scan_all)
            case JobName.LIBRARY_DELETE_CHECK:
                return JobResult(status="success", apply=_queue_pending_deletions)
            case JobName.LIBRARY_SYNC_FILES_QUEUE_ALL:
                return await self._sync_files_queue_all(data)
            case JobName.LIBRARY_SYNC_FILES:
                return await self._sync_files(data)
            case JobName.LIBRARY_SCAN_ASSETS_QUEUE_ALL:
                return await self._sync_assets_queue_all(data)
            case JobName.LIBRARY_SYNC_ASSETS:
                return await self._sync_assets(data)
            case JobName.LIBRARY_DELETE:
                return await self._delete_library(data)
            case JobName.LIBRARY_REMOVE_ASSET:
                return JobResult(status="success", apply=partial(_remove_paths, data=data))
            case _:
                return self.unexpected(job)

    async def _sync_files_queue_all(self, data: Mapping[str, Any]) -> JobResult:
        library_id = data.get("id")
        if not isinstance(library_id, str):
            return JobResult(status="failed", error="job data has no library id", retry=False)
        async with self._pool.connection() as conn:
            library = await libraries_q.get(conn, library_id)
        if library is None:
            return JobResult(status="skipped")
        roots = await trio.to_thread.run_sync(_valid_roots, library["importPaths"], self._media)
        if not roots:
            log.warning("%s: no valid import paths in library %s", self.name, library_id)
            return JobResult(status="skipped")
        pages: Iterator[list[str]] = batches(walk_files(roots, Exclusions(library["exclusionPatterns"])), self._page)
        send, receive = trio.open_memory_channel[list[str]](WALK_AHEAD)
        crawled = queued = 0
        deleted = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._walk_pages, pages, send)
                with receive:
                    async for page in receive:
                        crawled += len(page)
                        async with self._pool.connection() as conn, conn.transaction():
                            if await libraries_q.get(conn, library_id) is None:
                                deleted = True
                                nursery.cancel_scope.cancel()
                                break
                            fresh = await q.new_paths(conn, library_id, page)
                            if fresh:
                                queued += len(fresh)
                                payload = {"libraryId": library_id, "paths": fresh, "progressCounter": crawled}
                                await jobs_q.enqueue_job(conn, JobName.LIBRARY_SYNC_FILES, payload)
        finally:
            pages.close()  # type: ignore[attr-defined]
        if deleted:
            log.info("%s: library %s was deleted, scan stopped", self.name, library_id)
            return JobResult(status="skipped")
        log.info("%s: crawled %d file(s), queued %d for import into %s", self.name, crawled, queued, library_id)

        async def apply(conn: Conn) -> None:
            await libraries_q.mark_refreshed(conn, library_id)

        return JobResult(status="success", apply=apply)

    async def _walk_pages(self, pages: Iterator[list[str]], send: trio.MemorySendChannel[list[str]]) -> None:
        """The walk's pages, each read in a thread while the one before is checked in SQL."""
        with send:
            while True:
                async with self.limiter:
                    page = await trio.to_thread.run_sync(next, pages, None)
                if page is None:
                    return
                await send.send(page)

    async def _sync_files(self, data: Mapping[str, Any]) -> JobResult:
        library_id = data.get("libraryId")
        paths = data.get("paths")
        if not isinstance(library_id, str) or not isinstance(paths, list):
            return JobResult(status="failed", error="job data has no libraryId and paths", retry=False)
        async with self._pool.connection() as conn:
            library = await libraries_q.get(conn, library_id)
        if library is None:
            return JobResult(status="failed", error=f"library {library_id} is deleted", retry=False)
        async with self.limiter:
            files = await trio.to_thread.run_sync(_stat_files, [p for p in paths if isinstance(p, str)])

        async def apply(conn: Conn) -> None:
            if await libraries_q.get(conn, library_id) is None:
                return  # deleted since: import nothing into it
            ids = await q.import_files(conn, owner_id=library["ownerId"], library_id=library_id, files=files)
            log.info("%s: imported %d file(s) into library %s", self.name, len(ids), library_id)

        return JobResult(status="success", apply=apply)

    async def _sync_assets_queue_all(self, data: Mapping[str, Any]) -> JobResult:
        library_id = data.get("id")
        if not isinstance(library_id, str):
            return JobResult(status="failed", error="job data has no library id", retry=False)
        async with self._pool.connection() as conn:
            library = await libraries_q.get(conn, library_id)
            if library is None:
                return JobResult(status="skipped")
            total = await q.count_assets(conn, library_id)
            if total == 0:
                return JobResult(status="success")
            async with conn.transaction():
                offlined = await q.detect_offline(conn, library_id, library["importPaths"], library["exclusionPatterns"])
        log.info("%s: %d of %d asset(s) offline by paths or patterns in %s", self.name, offlined, total, library_id)
        if offlined == total:
            return JobResult(status="success")
        data = {
            "libraryId": library_id,
            "importPaths": library["importPaths"],
            "exclusionPatterns": library["exclusionPatterns"],
            "totalAssets": total,
        }
        async with self._pool.connection() as conn, conn.transaction():
            await q.queue_asset_pages(conn, library_id, limit=self._page, data=data)
        return JobResult(status="success")

    async def _sync_assets(self, data: Mapping[str, Any]) -> JobResult:
        library_id = data.get("libraryId")
        ids = data.get("assetIds")
        if not isinstance(library_id, str) or not isinstance(ids, list):
            return JobResult(status="failed", error="job data has no libraryId and assetIds", retry=False)
        import_paths = [p for p in data.get("importPaths") or [] if isinstance(p, str)]
        exclusions = Exclusions([p for p in data.get("exclusionPatterns") or [] if isinstance(p, str)])
        wanted = [i for i in ids if isinstance(i, str)]
        checks = AssetChecks(offline=[], offline_trashed=[], online=[], online_trashed=[], changed=[])
        send, receive = trio.open_memory_channel[q.KnownAssets](1)
        checked = 0

        async def read_rows() -> None:
            async with send, self._pool.connection() as conn:
                for start in range(0, len(wanted), CHECK_CHUNK):
                    await send.send(await q.assets_by_ids(conn, library_id, wanted[start : start + CHECK_CHUNK]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_rows)
            async with receive:
                async for assets in receive:
                    checked += len(assets)
                    async with self.limiter:
                        await trio.to_thread.run_sync(check_assets, assets, import_paths, exclusions, checks)
        now = self._now()

        async def apply(conn: Conn) -> None:
            await q.set_offline(conn, checks.offline, trash_at=now)
            await q.set_offline(conn, checks.offline_trashed, trash_at=None)
            await q.set_online(conn, checks.online, untrash=True)
            await q.set_online(conn, checks.online_trashed, untrash=False)
            await q.refresh_changed(conn, checks.changed)

        log.info(
            "%s: %d offline, %d online, %d changed of %d asset(s) in %s", self.name,
            len(checks.offline) + len(checks.offline_trashed), len(checks.online) + len(checks.online_trashed),
            len(checks.changed), checked, library_id,
        )
        return JobResult(status="success", apply=apply)

    async def _delete_library(self, data: Mapping[str, Any]) -> JobResult:
        library_id = data.get("id")
        if not isinstance(library_id, str):
            return JobResult(status="failed", error="job data has no library id", retry=False)
        async with self._pool.connection() as conn:
            if await libraries_q.get_any(conn, library_id) is None:
                return JobResult(status="success")  # already gone
            async with conn.transaction():
                await q.trash_all(conn, library_id)
        after: UUID | None = None
        found = False
        while True:
            async with self._pool.connection() as conn, conn.transaction():
                ids = await q.asset_ids_after(conn, library_id, after, self._page)
                if not ids:
                    break
                found = True
                for asset_id in ids:
                    await jobs_q.enqueue_job(
                        conn, JobName.ASSET_DELETE, {"id": str(asset_id), "deleteOnDisk": False},
                        dedupe_key=trash_q.asset_delete_key(str(asset_id)),
                    )
            after = ids[-1]
        if found:
            # Immich leaves the row to the next LibraryDeleteCheck (queued by the nightly library
            # scan); looking again once the AssetDelete jobs had time to run removes it sooner.
            again_at = self._now() + timedelta(seconds=DELETE_RECHECK)

            async def recheck(conn: Conn) -> None:
                await jobs_q.enqueue_job(conn, JobName.LIBRARY_DELETE, {"id": library_id}, run_after=again_at)

            return JobResult(status="success", apply=recheck)

        async def apply(conn: Conn) -> None:
            await libraries_q.hard_delete(conn, library_id)

        return JobResult(status="success", apply=apply)


async def _queue_scan_all(conn: Conn) -> None:
    await jobs_q.enqueue_job(conn, JobName.LIBRARY_DELETE_CHECK, {})
    for library in await libraries_q.list_all(conn):
        await libraries_q.enqueue_scan(conn, library["id"])


async def _queue_pending_deletions(conn: Conn) -> None:
    await libraries_q.enqueue_pending_deletions(conn)


async def _remove_paths(conn: Conn, *, data: Mapping[str, Any]) -> None:
    library_id = data.get("libraryId")
    if not isinstance(library_id, str):
        return
    for path in data.get("paths") or []:
        if not isinstance(path, str):
            continue
        asset_id = await q.asset_by_path(conn, library_id, path)
        if asset_id is not None:
            await jobs_q.enqueue_job(
                conn, JobName.ASSET_DELETE, {"id": str(asset_id), "deleteOnDisk": False},
                dedupe_key=trash_q.asset_delete_key(str(asset_id)),
            )
