"""Library watching: file events debounced on Trio's MockClock (a fake event source), the jobs a
batch of events becomes, and ``watchfiles`` delivering real events on Trio."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from immich_trio.actors.library_scanner.watch import (
    ADD,
    CHANGE,
    UNLINK,
    Events,
    LibraryWatch,
    queue_changes,
    watch_library,
    watchfiles_source,
)
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
LIBRARY = {"id": "lib", "importPaths": ["/lib"], "exclusionPatterns": ["**/@eaDir/**"]}


class FakeSource:
    """Events the test sends, as a watcher's source; records the roots it was asked to watch."""

    def __init__(self) -> None:
        self.send, self._receive = trio.open_memory_channel[Events](0)
        self.roots: list[Sequence[str]] = []
        self.watching = trio.Event()

    async def __call__(self, roots: Sequence[str]) -> AsyncIterator[Events]:
        self.roots.append(roots)
        self.watching.set()
        async for batch in self._receive:
            yield batch


async def test_events_are_debounced_on_the_trio_clock(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource()
    flushed: list[tuple[float, list[str], list[str]]] = []

    async def flush(library: dict[str, Any], changed: list[str], removed: list[str]) -> None:
        flushed.append((trio.current_time(), changed, removed))

    start = trio.current_time()
    nursery.start_soon(lambda: watch_library(LIBRARY, source=source, flush=flush, debounce=5.0))
    await source.send.send([(ADD, "/lib/a.jpg"), (ADD, "/lib/notes.txt"), (ADD, "/lib/@eaDir/a.jpg")])
    await trio.sleep(3)
    await source.send.send([(CHANGE, "/lib/a.jpg"), (UNLINK, "/lib/old.jpg")])
    await trio.sleep(4.9)
    assert flushed == []  # still within 5 s of the last event
    await trio.sleep(0.2)
    assert flushed == [(start + 8.0, ["/lib/a.jpg"], ["/lib/old.jpg"])]
    await trio.sleep(60)
    await source.send.send([(UNLINK, "/lib/a.jpg")])
    await trio.sleep(10)
    [(moment, changed, removed)] = flushed[1:]  # the event came at 68.1
    assert (moment - start, changed, removed) == (pytest.approx(73.1), [], ["/lib/a.jpg"])


async def test_watched_changes_become_the_scan_jobs(pool: Pool, sql: Sql, owner: str, tmp_path: Path) -> None:
    [(library_id,)] = sql(
        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES (%s, %s, %s, %s)'
        " RETURNING id::text",
        ("Photos", owner, [str(tmp_path)], []),
    )
    [(known,)] = sql(
        'INSERT INTO asset ("ownerId", "libraryId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "isExternal")'
        " VALUES (%s, %s, 'IMAGE', %s, 'known.jpg', 'x', 'sha1-path', now(), now(), now(), true) RETURNING id::text",
        (owner, library_id, f"{tmp_path}/known.jpg"),
    )
    library = {"id": library_id, "importPaths": [str(tmp_path)], "exclusionPatterns": []}
    await queue_changes(pool, library, [f"{tmp_path}/known.jpg", f"{tmp_path}/new.jpg"], [f"{tmp_path}/gone.jpg"])
    rows = sql("SELECT name, data FROM immich_trio.job ORDER BY id")
    assert [(name, data.get("paths"), data.get("assetIds")) for name, data in rows] == [
        ("LibrarySyncFiles", [f"{tmp_path}/new.jpg"], None),
        ("LibrarySyncAssets", None, [known]),
        ("LibraryRemoveAsset", [f"{tmp_path}/gone.jpg"], None),
    ]
    # a library deleted meanwhile gets nothing
    sql('UPDATE library SET "deletedAt" = now()')
    await queue_changes(pool, library, [f"{tmp_path}/other.jpg"], [])
    assert len(sql("SELECT 1 FROM immich_trio.job")) == 3


async def test_watching_follows_the_config(pool: Pool, sql: Sql, owner: str, nursery: trio.Nursery) -> None:
    sql(
        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES (%s, %s, %s, %s)',
        ("Photos", owner, ["/photos"], []),
    )
    source = FakeSource()
    off = LibraryWatch(pool, source=source)
    with trio.fail_after(20):
        await nursery.start(off.run)
    assert off.watching == {} and source.roots == []  # library.watch.enabled is false by default
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)",
        ('{"library": {"watch": {"enabled": true}}}',),
    )
    on = LibraryWatch(pool, source=source)
    with trio.fail_after(20):
        await nursery.start(on.run)
        await source.watching.wait()
    assert list(on.watching.values()) == [(("/photos",), ())] and source.roots == [["/photos"]]


async def test_watchfiles_delivers_events_on_trio(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            seen: list[Events] = []

            async def listen() -> None:
                async for batch in watchfiles_source([str(tmp_path)]):
                    seen.append(batch)
                    if any(path.endswith("a.jpg") for _, path in batch):
                        nursery.cancel_scope.cancel()

            nursery.start_soon(listen)
            await trio.sleep(0.5)  # the watcher is set up in a thread
            (tmp_path / "a.jpg").write_bytes(b"x")
    assert any((ADD, str(tmp_path / "a.jpg")) in list(batch) for batch in seen)


async def test_one_process_watches_and_another_takes_over(pool: Pool, sql: Sql, owner: str, nursery: trio.Nursery) -> None:
    sql(
        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns") VALUES (%s, %s, %s, %s)',
        ("Photos", owner, ["/photos"], []),
    )
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)",
        ('{"library": {"watch": {"enabled": true}}}',),
    )
    first_source, second_source = FakeSource(), FakeSource()
    first = LibraryWatch(pool, source=first_source, reload_interval=0.05)
    second = LibraryWatch(pool, source=second_source, reload_interval=0.05)
    with trio.fail_after(20):
        first_scope = trio.CancelScope()

        async def run_first(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with first_scope:
                await first.run(task_status=task_status)

        await nursery.start(run_first)
        await first_source.watching.wait()
        await nursery.start(second.run)
        for _ in range(5):  # several reloads: the second never watches while the first does
            await trio.sleep(0.05)
        assert first.leading and not second.leading
        assert second.watching == {} and second_source.roots == []
        first_scope.cancel()  # the first process stops: its lock goes with it
        await second_source.watching.wait()
    assert second.leading and list(second.watching.values()) == [(("/photos",), ())]
