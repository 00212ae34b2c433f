"""The library queue's jobs driven one by one (as the dispatcher would, with crashes in between):
a scan that restarts mid-way imports every file exactly once, and a library deleted while it
is being scanned stops the scan and gets nothing imported."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.library_scanner import LibraryScannerActor
from immich_trio.actors.library_scanner import actor as scanner_module
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
PAGE = 2
FILES = 5


def _job(row: tuple[Any, ...]) -> Job:
    job_id, name, data = row
    return Job(id=job_id, queue="library", name=name, data=data, attempt=1, max_attempts=3,
               created_at=datetime.now(UTC))


async def _apply(pool: Pool, result: JobResult) -> None:
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(FILES):
        Image.new("RGB", (4, 4), "red").save(root / f"{i}.jpg")
    return root


@pytest.fixture
def library(sql: Sql, owner: str, photos: Path) -> str:
    [(library_id,)] = sql(
        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES (%s, %s, %s, %s)'
        " RETURNING id::text",
        ("Photos", owner, [str(photos)], []),
    )
    return str(library_id)


def _scanner(pool: Pool, media: Path) -> LibraryScannerActor:
    return LibraryScannerActor(pool, media, now=lambda: datetime.now(UTC), page=PAGE)


def _queued(sql: Sql, name: str) -> list[tuple[Any, ...]]:
    return sql("SELECT id, name, data FROM immich_trio.job WHERE name = %s ORDER BY id", (name,))


async def test_a_scan_restarted_mid_way_imports_each_file_once(
    pool: Pool, sql: Sql, media: Path, library: str, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanner = _scanner(pool, media)
    walk = _job((0, "LibrarySyncFilesQueueAll", {"id": library}))
    # the first run dies after its first page is committed (its lease would run out) ...
    with trio.move_on_after(30) as scope:
        original = scanner_module.q.new_paths
        calls = 0

        async def dies_after_first_page(*args: Any) -> list[str]:
            nonlocal calls
            calls += 1
            if calls == 2:
                scope.cancel()
                await trio.lowlevel.checkpoint()
            return await original(*args)

        monkeypatch.setattr(scanner_module.q, "new_paths", dies_after_first_page)
        await scanner.run_job(walk)
    monkeypatch.undo()
    assert scope.cancelled_caught
    assert len(_queued(sql, "LibrarySyncFiles")) == 1  # the first page survived the crash
    # ... and the job runs again from the start
    result = await scanner.run_job(walk)
    assert result.status == "success"
    await _apply(pool, result)
    pages = _queued(sql, "LibrarySyncFiles")
    assert [len(data["paths"]) for _, _, data in pages] == [2, 2, 2, 1]  # the first page twice
    # one import job also "crashes" before its commit, and runs again
    lost = await scanner.run_job(_job(pages[0]))
    assert lost.status == "success"  # its apply never runs: nothing was written
    assert sql("SELECT count(*) FROM asset") == [(0,)]
    for row in pages:
        await _apply(pool, await scanner.run_job(_job(row)))
    assert sql('SELECT "originalPath" FROM asset ORDER BY 1') == [(f"{photos}/{i}.jpg",) for i in range(FILES)]
    # sidecar discovery first, which queues the metadata extraction (Immich's queuePostSyncJobs)
    assert sql("SELECT name, count(*) FROM immich_trio.job WHERE name IN ('SidecarCheck', 'AssetExtractMetadata')"
               " GROUP BY name") == [("SidecarCheck", FILES)]
    assert sql('SELECT "refreshedAt" IS NOT NULL FROM library') == [(True,)]


async def test_a_library_deleted_while_scanning_stops_the_scan(
    pool: Pool, sql: Sql, media: Path, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanner = _scanner(pool, media)
    original = scanner_module.q.new_paths
    calls = 0

    async def deleted_after_first_page(*args: Any) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            sql('UPDATE library SET "deletedAt" = now() WHERE id = %s', (library,))
        return await original(*args)

    monkeypatch.setattr(scanner_module.q, "new_paths", deleted_after_first_page)
    result = await scanner.run_job(_job((0, "LibrarySyncFilesQueueAll", {"id": library})))
    monkeypatch.undo()
    assert result.status == "skipped" and calls == 1
    [page] = _queued(sql, "LibrarySyncFiles")
    imported = await scanner.run_job(_job(page))
    assert (imported.status, imported.retry) == ("failed", False)
    assert sql("SELECT count(*) FROM asset") == [(0,)]
    # the deletion itself: the row goes (no asset to remove first)
    deletion = await scanner.run_job(_job((0, "LibraryDelete", {"id": library})))
    await _apply(pool, deletion)
    assert sql("SELECT count(*) FROM library") == [(0,)]


async def test_deleting_a_library_removes_its_assets_then_the_row(
    pool: Pool, sql: Sql, media: Path, library: str, photos: Path
) -> None:
    scanner = _scanner(pool, media)
    await _apply(pool, await scanner.run_job(_job((0, "LibrarySyncFilesQueueAll", {"id": library}))))
    for row in _queued(sql, "LibrarySyncFiles"):
        await _apply(pool, await scanner.run_job(_job(row)))
    sql("DELETE FROM immich_trio.job")
    sql('UPDATE library SET "deletedAt" = now()')  # DELETE /libraries/{id}
    await _apply(pool, await scanner.run_job(_job((0, "LibraryDelete", {"id": library}))))
    assert sql('SELECT count(*) FROM asset WHERE "deletedAt" IS NULL') == [(0,)]  # all trashed at once
    deletes = sql("SELECT data FROM immich_trio.job WHERE name = 'AssetDelete' ORDER BY id")
    assert sorted(data["id"] for (data,) in deletes) == sorted(str(i) for (i,) in sql("SELECT id FROM asset"))
    assert all(data["deleteOnDisk"] is False for (data,) in deletes)
    [again] = _queued(sql, "LibraryDelete")
    assert sql("SELECT run_after > now() + interval '30 seconds' FROM immich_trio.job WHERE id = %s",
               (again[0],)) == [(True,)]
    sql("DELETE FROM asset")  # what the AssetDelete jobs do
    await _apply(pool, await scanner.run_job(_job(again)))
    assert sql("SELECT count(*) FROM library") == [(0,)]
    assert sorted(await trio.to_thread.run_sync(os.listdir, photos)) == [f"{i}.jpg" for i in range(FILES)]
