"""The job table's queries on a real database: enqueue, dedupe, claim under a lease,
fencing of stale runs, retry timing, counts and the QueueAll expansions."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from immich_trio.jobs.names import JobName, QueueName
from immich_trio.sql import jobs as q
from immich_trio.sql.driver import connect
from immich_trio.sql.pool import Pool, open_pool

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
THUMBS = QueueName.THUMBNAIL_GENERATION.value
META = QueueName.METADATA_EXTRACTION.value


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    async with open_pool(db_url) as pool:
        yield pool


async def rows(pool: Pool, query: str, params: Any = None) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall()) if cur.description else []


async def claim(
    pool: Pool, owner: str, now: datetime, limit: int = 10, queue: str = THUMBS
) -> list[q.Job]:
    async with pool.connection() as conn:
        return await q.claim(
            conn, queue=queue, limit=limit, owner=owner, now=now, lease_until=now + LEASE
        )


async def test_enqueue_rolled_back_leaves_no_job_and_no_notification(
    pool: Pool, db_url: str
) -> None:
    listener = await connect(db_url, autocommit=True)
    try:
        await listener.execute(f"LISTEN {q.NOTIFY_CHANNEL}")
        async with pool.connection() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await q.enqueue(
                        conn, THUMBS, "AssetGenerateThumbnails", {"id": str(uuid.uuid4())}
                    )
                    raise RuntimeError("abort")
        assert await rows(pool, "SELECT * FROM immich_trio.job") == []
        # A committed one does notify, with the queue as payload.
        async with pool.connection() as conn:
            async with conn.transaction():
                await q.enqueue(conn, META, "AssetExtractMetadata", {"id": str(uuid.uuid4())})
        with trio.fail_after(5):
            async with aclosing(listener.notifies()) as gen:
                async for note in gen:
                    assert note.payload == META  # the rolled-back one never arrives first
                    break
    finally:
        await listener.close()


async def test_enqueue_copies_asset_id_and_dedupes(pool: Pool) -> None:
    asset = str(uuid.uuid4())
    queue = QueueName.STORAGE_TEMPLATE_MIGRATION.value
    async with pool.connection() as conn:
        first = await q.enqueue(
            conn, queue, "StorageTemplateMigrationSingle", {"id": asset}, dedupe_key=asset
        )
        second = await q.enqueue(
            conn, queue, "StorageTemplateMigrationSingle", {"id": asset}, dedupe_key=asset
        )
        other = await q.enqueue_job(conn, JobName.PERSON_CLEANUP, {})
    assert first is not None and second is None and other is not None
    (row,) = await rows(pool, "SELECT * FROM immich_trio.job WHERE id = %s", (first,))
    assert str(row["assetId"]) == asset and row["status"] == "waiting" and row["max_attempts"] == 3
    with pytest.raises(ValueError):
        async with pool.connection() as conn:
            await q.enqueue(conn, THUMBS, "AssetExtractMetadata", {})
    # Once the first has failed for good, the key is free again.
    await rows(pool, "UPDATE immich_trio.job SET status = 'failed' WHERE id = %s", (first,))
    async with pool.connection() as conn:
        assert await q.enqueue(
            conn, queue, "StorageTemplateMigrationSingle", {"id": asset}, dedupe_key=asset
        )


async def test_claim_lease_expiry_and_fencing(pool: Pool) -> None:
    async with pool.connection() as conn:
        job_id = await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {"id": str(uuid.uuid4())})
    (job,) = await claim(pool, "A", T0)
    assert job.id == job_id and job.attempt == 1
    # Held until the lease runs out, even one microsecond before.
    assert await claim(pool, "B", T0 + LEASE - timedelta(microseconds=1)) == []
    (again,) = await claim(pool, "B", T0 + LEASE + timedelta(microseconds=1))
    assert again.attempt == 2
    async with pool.connection() as conn:
        # A's late answer is refused, whatever it was; B's is accepted.
        assert not await q.finish(conn, job_id=job.id, attempt=1, owner="A")
        assert (
            await q.retry_or_fail(
                conn, job_id=job.id, attempt=1, owner="A", error="x", retry_at=T0, now=T0
            )
            is None
        )
        assert await q.renew(conn, owner="A", leases=[(job.id, 1)], until=T0 + 2 * LEASE) == set()
        assert await q.finish(conn, job_id=job.id, attempt=2, owner="B")
    assert await rows(pool, "SELECT * FROM immich_trio.job") == []


async def test_renew_extends_lease(pool: Pool) -> None:
    async with pool.connection() as conn:
        await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {})
    (job,) = await claim(pool, "A", T0)
    async with pool.connection() as conn:
        assert await q.renew(conn, owner="A", leases=[(job.id, 1)], until=T0 + 2 * LEASE) == {
            job.id
        }
    assert await claim(pool, "B", T0 + LEASE + timedelta(seconds=1)) == []
    assert len(await claim(pool, "B", T0 + 2 * LEASE + timedelta(seconds=1))) == 1


async def test_retry_at_exact_time_then_failed(pool: Pool) -> None:
    async with pool.connection() as conn:
        await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {}, max_attempts=2)
    (job,) = await claim(pool, "A", T0)
    retry_at = T0 + timedelta(seconds=10)
    async with pool.connection() as conn:
        status = await q.retry_or_fail(
            conn, job_id=job.id, attempt=1, owner="A", error="boom", retry_at=retry_at, now=T0
        )
        assert status == "waiting"
        counts = await q.queue_counts(conn, T0)
    assert counts[THUMBS]["delayed"] == 1 and counts[THUMBS]["waiting"] == 0
    assert await claim(pool, "A", retry_at - timedelta(microseconds=1)) == []
    (job,) = await claim(pool, "A", retry_at)
    assert job.attempt == 2
    async with pool.connection() as conn:
        status = await q.retry_or_fail(
            conn, job_id=job.id, attempt=2, owner="A", error="boom again", retry_at=T0, now=T0
        )
    assert status == "failed"
    (row,) = await rows(pool, "SELECT status, error, attempts FROM immich_trio.job")
    assert row == {"status": "failed", "error": "boom again", "attempts": 2}
    assert await claim(pool, "A", T0 + timedelta(days=1)) == []


async def test_expired_lease_on_last_attempt_fails_the_job(pool: Pool) -> None:
    async with pool.connection() as conn:
        await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {}, max_attempts=1)
    assert len(await claim(pool, "A", T0)) == 1
    assert await claim(pool, "B", T0 + 2 * LEASE) == []
    (row,) = await rows(pool, "SELECT status, error FROM immich_trio.job")
    assert row["status"] == "failed" and row["error"] == q.LEASE_EXPIRED_ERROR


async def test_claim_respects_limit_pause_names_and_order(pool: Pool) -> None:
    async with pool.connection() as conn:
        ids = [await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {"n": n}) for n in range(3)]
        await q.enqueue(conn, THUMBS, "PersonGenerateThumbnail", {})
        await q.set_paused(conn, THUMBS, True)
    assert await claim(pool, "A", T0) == []
    async with pool.connection() as conn:
        counts = await q.queue_counts(conn, T0)
        assert counts[THUMBS]["paused"] == 4 and counts[THUMBS]["waiting"] == 0
        await q.set_paused(conn, THUMBS, False)
        jobs = await q.claim(
            conn, queue=THUMBS, limit=2, owner="A", now=T0, lease_until=T0 + LEASE,
            names=["AssetGenerateThumbnails"],
        )  # fmt: skip
    assert [job.id for job in jobs] == ids[:2]
    async with pool.connection() as conn:
        jobs = await q.claim(
            conn, queue=THUMBS, limit=5, owner="A", now=T0, lease_until=T0 + LEASE,
            names=["PersonGenerateThumbnail"],
        )  # fmt: skip
    assert [job.name for job in jobs] == ["PersonGenerateThumbnail"]


async def test_release_returns_jobs_without_counting_the_attempt(pool: Pool) -> None:
    async with pool.connection() as conn:
        await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {})
    (job,) = await claim(pool, "A", T0)
    async with pool.connection() as conn:
        assert await q.release(conn, owner="A", leases=[(job.id, job.attempt)], now=T0) == 1
    (again,) = await claim(pool, "B", T0)
    assert again.attempt == 1


async def test_counts_empty_clear_failed_and_search(pool: Pool) -> None:
    async with pool.connection() as conn:
        for _ in range(3):
            await q.enqueue(conn, THUMBS, "AssetGenerateThumbnails", {})
        await q.enqueue(
            conn, THUMBS, "AssetGenerateThumbnails", {}, run_after=T0 + timedelta(hours=1)
        )
    (active,) = await claim(pool, "A", T0, limit=1)
    (failing,) = await claim(pool, "A", T0, limit=1)
    async with pool.connection() as conn:
        await q.retry_or_fail(
            conn, job_id=failing.id, attempt=1, owner="A", error="e", retry_at=T0, now=T0
        )
        await conn.execute(
            "UPDATE immich_trio.job SET status = 'failed' WHERE id = %s", (failing.id,)
        )
        counts = await q.queue_counts(conn, T0)
        assert counts[THUMBS] == {
            "active": 1, "completed": 0, "failed": 1, "delayed": 1, "waiting": 1, "paused": 0,
        }  # fmt: skip
        assert list(counts) == [queue.value for queue in QueueName]
        found = await q.search(conn, THUMBS, ["active", "delayed"], now=T0)
        assert [row["state"] for row in found] == ["active", "delayed"]
        assert found[0]["id"] == active.id
        assert await q.empty(conn, THUMBS, T0) == 1
        assert await q.clear_failed(conn, THUMBS) == 1
        counts = await q.queue_counts(conn, T0)
    assert counts[THUMBS]["waiting"] == 0 and counts[THUMBS]["failed"] == 0
    assert counts[THUMBS]["delayed"] == 1 and counts[THUMBS]["active"] == 1


async def _insert_asset(conn: Any, owner: uuid.UUID, **extra: Any) -> uuid.UUID:
    cur = await conn.execute(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' checksum, "checksumAlgorithm", "originalFileName", "localDateTime", thumbhash)'
        " VALUES (%s, 'IMAGE', %s, now(), now(), %s, 'sha1', 'a.jpg', now(), %s) RETURNING id",
        (owner, f"/upload/{uuid.uuid4()}.jpg", os.urandom(20), extra.get("thumbhash")),
    )
    row = await cur.fetchone()
    return row["id"]  # type: ignore[no-any-return]


async def test_queue_all_expansions(pool: Pool) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """INSERT INTO "user" (email, name, password) VALUES ('a@b.c', 'A', 'x') RETURNING id"""
        )
        owner = (await cur.fetchone())["id"]  # type: ignore[index]
        bare = await _insert_asset(conn, owner)
        done = await _insert_asset(conn, owner, thumbhash=b"\x01")
        for kind in ("preview", "thumbnail"):
            await conn.execute(
                'INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)',
                (done, kind, f"/thumbs/{kind}"),
            )
        await conn.execute(
            'INSERT INTO asset_job_status ("assetId", "metadataExtractedAt") VALUES (%s, now())',
            (done,),
        )
        async with conn.transaction():
            assert await q.enqueue_missing_thumbnails(conn, force=False) == 1
            assert await q.enqueue_missing_metadata(conn, force=False) == 1
    found = await rows(pool, 'SELECT queue, name, data, "assetId" FROM immich_trio.job ORDER BY id')
    assert found == [
        {
            "queue": THUMBS,
            "name": "AssetGenerateThumbnails",
            "data": {"id": str(bare)},
            "assetId": bare,
        },
        {"queue": META, "name": "AssetExtractMetadata", "data": {"id": str(bare)}, "assetId": bare},
    ]
    async with pool.connection() as conn:
        assert await q.enqueue_missing_thumbnails(conn, force=True) == 2
        assert await q.enqueue_missing_metadata(conn, force=True) == 2
