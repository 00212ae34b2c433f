"""Import paths as the issue's bad input names them: a folder with tens of thousands of entries
is walked in pages without ever holding its listing, and a mount that vanishes while a scan
runs (between two pages) ends the scan cleanly; the next check takes the assets offline and to
the trash as Immich's ``LibrarySyncAssets`` does, and they come back when the mount does."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.library_scanner import LibraryScannerActor
from immich_trio.actors.library_scanner import actor as scanner_module
from immich_trio.actors.library_scanner.walk import Exclusions, batches, walk_files
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
MANY = 20_000
PAGE = 1_000


def _empty_files(folder: Path, count: int, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    for i in range(first, first + count):
        os.close(os.open(folder / f"{i:06d}.jpg", flags, 0o644))


def _job(job_id: int, name: str, data: dict[str, Any]) -> Job:
    return Job(id=job_id, queue="library", name=name, data=data, attempt=1, max_attempts=3,
               created_at=datetime.now(UTC))


async def _run(pool: Pool, scanner: LibraryScannerActor, job: Job) -> JobResult:
    """Run one job and commit what it applies, as the dispatcher would."""
    result = await scanner.run_job(job)
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)
    return result


async def _drain(pool: Pool, sql: Sql, scanner: LibraryScannerActor, name: str) -> list[JobResult]:
    """Run (and remove) every queued ``name`` job, oldest first."""
    results = []
    for job_id, data in sql("DELETE FROM immich_trio.job WHERE name = %s RETURNING id, data", (name,)):
        results.append(await _run(pool, scanner, _job(job_id, name, data)))
    return results


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of ``MANY`` empty ``.jpg`` files, made once for this module's tests."""
    folder = tmp_path_factory.mktemp("big") / "one-folder"
    _empty_files(folder, MANY)
    return folder


def test_a_folder_of_20000_entries_is_walked_in_pages_in_bounded_memory(big_folder: Path) -> None:
    folder = big_folder
    seen = bytearray(MANY)  # made before tracing: which files came out, without holding their paths
    sizes: list[int] = []
    tracemalloc.start()
    try:
        for page in batches(walk_files([str(folder)], Exclusions(["**/@eaDir/**", "**/._*"])), PAGE):
            sizes.append(len(page))
            for path in page:
                seen[int(path[-10:-4])] += 1
            del page
        _, paged_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        listing = list(walk_files([str(folder)], Exclusions([])))  # what holding the folder would cost
        _, listing_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sizes == [PAGE] * (MANY // PAGE)
    assert seen == bytearray([1]) * MANY  # every file exactly once
    assert len(listing) == MANY
    # one page of paths at a time: a small fraction of the whole listing, and well under a MiB
    assert paged_peak < listing_peak / 8, (paged_peak, listing_peak)
    assert paged_peak < 512 * 1024, paged_peak


async def test_the_scan_queues_a_big_folder_as_bounded_pages(pool: Pool, sql: Sql, owner: str, media: Path,
                                                             big_folder: Path) -> None:
    folder = big_folder
    [(library,)] = sql('INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES'
                       " ('Big', %s, %s, '{}') RETURNING id::text", (owner, [str(folder)]))
    scanner = LibraryScannerActor(pool, media, now=lambda: datetime.now(UTC), page=PAGE)
    result = await _run(pool, scanner, _job(0, "LibrarySyncFilesQueueAll", {"id": library}))
    assert result.status == "success"
    pages = sql("SELECT data FROM immich_trio.job WHERE name = 'LibrarySyncFiles' ORDER BY id")
    assert [len(data["paths"]) for (data,) in pages] == [PAGE] * (MANY // PAGE)
    assert [data["progressCounter"] for (data,) in pages] == [PAGE * (i + 1) for i in range(MANY // PAGE)]
    queued = {path for (data,) in pages for path in data["paths"]}
    assert queued == {f"{folder}/{i:06d}.jpg" for i in range(MANY)}


ASSETS = 'SELECT count(*), count(*) FILTER (WHERE "isOffline"), count(*) FILTER (WHERE "deletedAt" IS NOT NULL) FROM asset'


async def test_a_mount_vanishing_mid_scan_ends_it_cleanly_and_takes_the_assets_offline(
    pool: Pool, sql: Sql, owner: str, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mount = tmp_path / "nas" / "photos"
    for part in range(4):
        await trio.to_thread.run_sync(_empty_files, mount / f"{part}", 10, part * 100)
    [(library,)] = sql('INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES'
                       " ('NAS', %s, %s, '{}') RETURNING id::text", (owner, [str(mount)]))
    scanner = LibraryScannerActor(pool, media, now=lambda: datetime.now(UTC), page=10)
    walk = _job(0, "LibrarySyncFilesQueueAll", {"id": library})
    check = _job(0, "LibraryScanAssetsQueueAll", {"id": library})
    await _run(pool, scanner, walk)
    await _drain(pool, sql, scanner, "LibrarySyncFiles")
    sql("DELETE FROM immich_trio.job")  # the imported assets' metadata jobs: not this test's concern
    assert sql(ASSETS) == [(40, 0, 0)]

    # four new folders of files appear, then the mount goes away after the walk's first page
    for part in range(4, 8):
        await trio.to_thread.run_sync(_empty_files, mount / f"{part}", 10, part * 100)
    gone = tmp_path / "unmounted"
    original = scanner_module.q.new_paths
    pages = 0

    async def unmount_after_first_page(*args: Any) -> list[str]:
        nonlocal pages
        pages += 1
        if pages == 1:
            await trio.to_thread.run_sync(os.rename, mount.parent, gone)
        return await original(*args)

    monkeypatch.setattr(scanner_module.q, "new_paths", unmount_after_first_page)
    with trio.fail_after(10):
        result = await _run(pool, scanner, walk)
    monkeypatch.undo()
    assert result.status == "success"
    # the folders not yet entered could not be read: the walk ended there (the pages it had read
    # ahead of the database's check before the mount went away are still checked: of 8 pages)
    assert 1 <= pages <= 2 + scanner_module.WALK_AHEAD
    # what the first pages queued cannot be read any more: nothing half-imported, no failure
    imports = await _drain(pool, sql, scanner, "LibrarySyncFiles")
    assert all(r.status == "success" for r in imports)
    assert sql(ASSETS) == [(40, 0, 0)]
    # the check of known assets: every file is missing, so offline and in the trash
    await _run(pool, scanner, check)
    queued = sql("SELECT data FROM immich_trio.job WHERE name = 'LibrarySyncAssets' ORDER BY id")
    # pages of 10 ids, every asset in exactly one, with Immich's progress counters
    assert [(len(d["assetIds"]), d["progressCounter"], d["totalAssets"]) for (d,) in queued] == [
        (10, 10 * (n + 1), 40) for n in range(4)
    ]
    assert sorted(i for (d,) in queued for i in d["assetIds"]) == sorted(i for (i,) in sql("SELECT id::text FROM asset"))
    assert all(d["importPaths"] == [str(mount)] and d["libraryId"] == library for (d,) in queued)
    checks = await _drain(pool, sql, scanner, "LibrarySyncAssets")
    assert [r.status for r in checks] == ["success"] * 4
    assert sql(ASSETS) == [(40, 40, 40)]
    assert sql("SELECT count(*) FROM immich_trio.job WHERE name <> 'AssetExtractMetadata'") == [(0,)]

    # the mount comes back: the next scan brings the assets back online and imports the new files
    await trio.to_thread.run_sync(os.rename, gone, mount.parent)
    await _run(pool, scanner, walk)
    await _drain(pool, sql, scanner, "LibrarySyncFiles")
    await _run(pool, scanner, check)
    await _drain(pool, sql, scanner, "LibrarySyncAssets")
    assert sql(ASSETS) == [(80, 0, 0)]
    assert sorted(p for (p,) in sql('SELECT "originalPath" FROM asset')) == sorted(
        f"{mount}/{part}/{part * 100 + i:06d}.jpg" for part in range(8) for i in range(10)
    )
