"""The integrity worker: every job of Immich's ``integrityCheck`` queue.

A check runs as Immich runs it: a ``...QueueAll`` job walks the media folder (or the asset
table) and enqueues batch jobs of ``BATCH`` paths, each committed as it is queued; each batch
job writes its reports in the dispatcher's transaction, at most once. A crash leaves the batch
jobs already queued in the job table, where they are claimed again, and reports are keyed
by ``(type, path)``, so a retried batch writes the same rows: no half report survives a run
that finishes. The checksum check commits one page of assets with its checkpoint
(``integrity-checksum-checkpoint``), so the next run continues where the last one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import trio

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.integrity import cleanup, files
from immich_trio.actors.worker import QueueWorker
from immich_trio.jobs.names import QUEUE_JOBS, JobName, QueueName
from immich_trio.sql import integrity as q
from immich_trio.sql import system_metadata
from immich_trio.sql.jobs import Job
from immich_trio.sql.jobs.enqueue import enqueue_job
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

SERVICE_NAME = "integrity"
INBOX = 4
BATCH = 1000
CHECKSUM_PAGE = 100
CHECKPOINT = "integrity-checksum-checkpoint"
J = JobName
JOBS = QUEUE_JOBS[QueueName.INTEGRITY_CHECK]
"""Every job of the queue; the dispatcher sends them here."""

Handler = Callable[["IntegrityActor", Job], Awaitable[JobResult]]


class IntegrityActor(QueueWorker):
    """Owns the integrity reports.

    Inbox: ``RunJob`` for the ten ``Integrity*`` jobs. File-system work (walks, stats,
    hashing) runs in threads under ``self.limiter`` (``job.integrityCheck.concurrency``).
    """

    inbox_capacity: ClassVar[int] = INBOX
    concurrency: ClassVar[int] = 1
    queue = QueueName.INTEGRITY_CHECK

    def __init__(self, pool: Pool, media: Path, *, name: str = SERVICE_NAME) -> None:
        super().__init__(pool, name=name)
        self._media = media

    async def run_job(self, job: Job) -> JobResult:
        handler = _HANDLERS.get(job.name)
        if handler is None:
            return self.unexpected(job)
        return await handler(self, job)

    async def _queue(self, name: JobName, data: dict[str, Any]) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await enqueue_job(conn, name, data)

    async def _queue_refresh(self, kind: str, name: JobName) -> None:
        async with self._pool.connection() as conn:
            batch: list[dict[str, Any]] = []
            async for row in q.stream(conn, kind, BATCH):
                batch.append({"reportId": str(row["id"]), "path": row["path"]})
                if len(batch) == BATCH:
                    await self._queue(name, {"items": batch})
                    batch = []
        if batch:
            await self._queue(name, {"items": batch})

    # -- missing files -------------------------------------------------------------------

    async def missing_queue_all(self, job: Job) -> JobResult:
        if job.data.get("refreshOnly"):
            await self._queue_refresh(q.MISSING_FILE, J.INTEGRITY_MISSING_FILES_REFRESH)
            return JobResult(status="success")
        for fetch, key in ((q.expected_assets, "assetId"), (q.expected_files, "fileAssetId")):
            after: str | None = None
            while True:
                async with self._pool.connection() as conn:
                    rows = await fetch(conn, after, BATCH)
                if not rows:
                    break
                after = str(rows[-1]["id"])
                items = [{"path": r["path"], key: str(r["id"])} for r in rows]
                await self._queue(J.INTEGRITY_MISSING_FILES, {"items": items})
        return JobResult(status="success")

    async def missing_files(self, job: Job) -> JobResult:
        items = list(job.data.get("items", []))
        async with self.limiter:
            present = await trio.to_thread.run_sync(files.exists, [i["path"] for i in items])
        found = [i["path"] for i, ok in zip(items, present, strict=True) if ok]
        gone = [i for i, ok in zip(items, present, strict=True) if not ok]

        async def apply(conn: q.Conn) -> None:
            await q.delete_paths(conn, q.MISSING_FILE, found)
            await q.upsert(
                conn,
                q.MISSING_FILE,
                [i["path"] for i in gone],
                asset_ids=[i.get("assetId") for i in gone],
                file_asset_ids=[i.get("fileAssetId") for i in gone],
            )

        return JobResult(status="success", apply=apply)

    async def missing_refresh(self, job: Job) -> JobResult:
        items = list(job.data.get("items", []))
        async with self.limiter:
            present = await trio.to_thread.run_sync(files.exists, [i["path"] for i in items])
        stale = [i["reportId"] for i, ok in zip(items, present, strict=True) if ok]

        async def apply(conn: q.Conn) -> None:
            await q.delete_ids(conn, stale)

        return JobResult(status="success", apply=apply)

    # -- untracked files -----------------------------------------------------------------

    async def untracked_queue_all(self, job: Job) -> JobResult:
        await self._queue_refresh(q.UNTRACKED_FILE, J.INTEGRITY_UNTRACKED_REFRESH)
        if job.data.get("refreshOnly"):
            return JobResult(status="success")
        for kind, folders in (("asset", files.ASSET_FOLDERS), ("asset_file", files.FILE_FOLDERS)):
            paths = files.batches(files.walk(self._media / f for f in folders), BATCH)
            while batch := await trio.to_thread.run_sync(files.next_batch, paths):
                await self._queue(J.INTEGRITY_UNTRACKED_FILES, {"type": kind, "paths": batch})
        return JobResult(status="success")

    async def untracked_files(self, job: Job) -> JobResult:
        paths = [str(p) for p in job.data.get("paths", [])]

        async def apply(conn: q.Conn) -> None:
            known = await q.tracked(conn, paths)
            await q.delete_paths(conn, q.UNTRACKED_FILE, sorted(known))
            await q.upsert(conn, q.UNTRACKED_FILE, [p for p in paths if p not in known])

        return JobResult(status="success", apply=apply)

    async def untracked_refresh(self, job: Job) -> JobResult:
        items = list(job.data.get("items", []))
        async with self.limiter:
            present = await trio.to_thread.run_sync(files.exists, [i["path"] for i in items])

        async def apply(conn: q.Conn) -> None:
            known = await q.tracked(conn, [i["path"] for i in items])
            stale = [
                i["reportId"]
                for i, ok in zip(items, present, strict=True)
                if not ok or i["path"] in known
            ]
            await q.delete_ids(conn, stale)

        return JobResult(status="success", apply=apply)

    # -- checksums -----------------------------------------------------------------------

    async def checksum_files(self, job: Job) -> JobResult:
        if job.data.get("refreshOnly"):
            await self._queue_refresh(q.CHECKSUM_MISMATCH, J.INTEGRITY_CHECKSUM_FILES_REFRESH)
            return JobResult(status="success")
        async with self._pool.connection() as conn:
            config = await self.current_config(conn)
            checkpoint = await system_metadata.get(conn, CHECKPOINT) or {}
            total = await q.asset_count(conn)
        limits = config.get("integrityChecks", {}).get("checksumFiles", {})
        deadline = trio.current_time() + float(limits.get("timeLimit", 3_600_000)) / 1000
        budget = max(1, int(total * float(limits.get("percentageLimit", 1))))
        after_at = datetime.fromisoformat(checkpoint["date"]) if checkpoint.get("date") else None
        after_id: str | None = checkpoint.get("assetId")
        done = 0
        while True:
            async with self._pool.connection() as conn:
                rows = await q.checksums_after(conn, after_at, after_id, CHECKSUM_PAGE)
            finished = len(rows) < CHECKSUM_PAGE
            ok: list[str] = []
            bad: list[dict[str, Any]] = []
            async with self.limiter:  # one thread hop per page, not per file
                digests = await trio.to_thread.run_sync(files.sha1_all, [r["path"] for r in rows])
            for row, digest in zip(rows, digests, strict=True):
                if digest is None or digest == bytes(row["checksum"]):
                    ok.append(row["path"])  # a gone file is the missing-file check's matter
                else:
                    bad.append(row)
                done += 1
            if rows:
                after_at, after_id = rows[-1]["createdAt"], str(rows[-1]["id"])
            stop = finished or done >= budget or trio.current_time() > deadline
            mark = {} if finished else {"date": after_at.isoformat() if after_at else None, "assetId": after_id}
            async with self._pool.connection() as conn, conn.transaction():
                await q.delete_paths(conn, q.CHECKSUM_MISMATCH, ok)
                await q.upsert(
                    conn,
                    q.CHECKSUM_MISMATCH,
                    [r["path"] for r in bad],
                    asset_ids=[str(r["id"]) for r in bad],
                )
                await system_metadata.set_value(conn, CHECKPOINT, mark)
            if stop:
                break
        log.info("%s: checksums of %d files checked", self.name, done)
        return JobResult(status="success")

    async def checksum_refresh(self, job: Job) -> JobResult:
        items = list(job.data.get("items", []))
        stale: list[str] = []
        async with self._pool.connection() as conn:
            sums = await q.report_checksums(conn, [i["reportId"] for i in items])
        for item in items:
            expected = sums.get(item["reportId"])
            async with self.limiter:
                digest = await trio.to_thread.run_sync(files.sha1, item["path"])
            if expected is None or digest is None or digest == expected:
                stale.append(item["reportId"])

        async def apply(conn: q.Conn) -> None:
            await q.delete_ids(conn, stale)

        return JobResult(status="success", apply=apply)

    # -- deleting reports ----------------------------------------------------------------

    async def delete_report_type(self, job: Job) -> JobResult:
        kind = job.data.get("type")
        batch: list[dict[str, Any]] = []
        async with self._pool.connection() as conn:
            async for row in q.stream(conn, kind, BATCH):
                batch.append({k: (str(v) if v is not None else None) for k, v in row.items()})
                if len(batch) == BATCH:
                    await self._queue(J.INTEGRITY_DELETE_REPORTS, {"reports": batch})
                    batch = []
        if batch:
            await self._queue(J.INTEGRITY_DELETE_REPORTS, {"reports": batch})
        return JobResult(status="success")

    async def delete_reports(self, job: Job) -> JobResult:
        reports = list(job.data.get("reports", []))

        async def apply(conn: q.Conn) -> None:
            for path in await cleanup.resolve(conn, reports):
                await trio.to_thread.run_sync(files.unlink, path)

        return JobResult(status="success", apply=apply)


_HANDLERS: dict[str, Handler] = {
    J.INTEGRITY_MISSING_FILES_QUEUE_ALL: IntegrityActor.missing_queue_all,
    J.INTEGRITY_MISSING_FILES: IntegrityActor.missing_files,
    J.INTEGRITY_MISSING_FILES_REFRESH: IntegrityActor.missing_refresh,
    J.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL: IntegrityActor.untracked_queue_all,
    J.INTEGRITY_UNTRACKED_FILES: IntegrityActor.untracked_files,
    J.INTEGRITY_UNTRACKED_REFRESH: IntegrityActor.untracked_refresh,
    J.INTEGRITY_CHECKSUM_FILES: IntegrityActor.checksum_files,
    J.INTEGRITY_CHECKSUM_FILES_REFRESH: IntegrityActor.checksum_refresh,
    J.INTEGRITY_DELETE_REPORT_TYPE: IntegrityActor.delete_report_type,
    J.INTEGRITY_DELETE_REPORTS: IntegrityActor.delete_reports,
}
assert set(_HANDLERS) == set(JOBS), "every job of the integrityCheck queue has a handler"
