"""The ``Ocr`` job's answers as Immich's ``OcrService`` gives them (skipped, failed with a
reason), and what storing a result does to the rows: replaced boxes, the search text set or
removed, ``ocrAt`` stamped, deletions audited for the sync stream."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio
from media_harness import LIMIT
from ocr_models import MODEL, install_ocr_model

from immich_trio import sysconfig
from immich_trio.actors.ocr import OcrActor
from immich_trio.jobs.names import JobName
from immich_trio.ml.ocr.local import LocalOcr
from immich_trio.ml.ocr.reader import OcrResult
from immich_trio.ml.ocr.service import OcrService
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _job(asset_id: str) -> Job:
    return Job(id=1, queue="ocr", name=JobName.OCR.value, data={"id": asset_id}, attempt=1, max_attempts=3,
               created_at=NOW)


def _config(enabled: bool = True) -> dict[str, Any]:
    config = copy.deepcopy(sysconfig.defaults())
    config["machineLearning"]["ocr"].update(enabled=enabled, modelName=MODEL)
    return config


async def _asset(pool: Pool, owner: str, *, visibility: str = "timeline", preview: Path | None = None) -> str:
    async with pool.connection() as conn:
        cur = await conn.execute(
            'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", checksum,'
            ' "checksumAlgorithm", "originalFileName", "localDateTime", visibility)'
            " VALUES (%s, 'IMAGE', '/x.png', now(), now(), sha256(gen_random_uuid()::text::bytea), 'sha1', 'x.png', now(), %s)"
            " RETURNING id::text",
            (owner, visibility),
        )
        asset_id = str((await cur.fetchone())["id"])  # type: ignore[index]
        if preview is not None:
            await conn.execute(
                """INSERT INTO asset_file ("assetId", type, path) VALUES (%s, 'preview', %s)""",
                (asset_id, str(preview)),
            )
    return asset_id


def _actor(pool: Pool, cache: Path, *, enabled: bool = True) -> OcrActor:
    actor = OcrActor(pool, OcrService(LocalOcr(cache, download=lambda paths, name: None)), now=lambda: NOW)
    actor.apply_config(_config(enabled))
    return actor


async def test_the_jobs_answers(pool: Pool, owner: str, tmp_path: Path) -> None:
    install_ocr_model(tmp_path)
    junk = tmp_path / "junk.jpeg"
    junk.write_bytes(b"not a jpeg")
    actor = _actor(pool, tmp_path)
    with trio.fail_after(LIMIT):
        bare = await _asset(pool, owner)
        hidden = await _asset(pool, owner, visibility="hidden", preview=junk)
        corrupt = await _asset(pool, owner, preview=junk)
        result = await actor.run_job(_job(bare))
        assert (result.status, result.error) == ("failed", "asset or its preview not found")
        assert (await actor.run_job(_job("00000000-0000-4000-8000-000000000000"))).status == "failed"
        assert (await actor.run_job(_job(hidden))).status == "skipped"
        result = await actor.run_job(_job(corrupt))
        assert result.status == "failed" and result.error is not None and "cannot decode" in result.error
        assert result.retry is False
        off = _actor(pool, tmp_path, enabled=False)
        assert (await off.run_job(_job(corrupt))).status == "skipped"


async def test_a_result_replaces_the_last_one_whole(pool: Pool, owner: str, tmp_path: Path) -> None:
    actor = _actor(pool, tmp_path)
    asset_id = await _asset(pool, owner)
    first = OcrResult(box=(0.1, 0.1, 0.5, 0.1, 0.5, 0.2, 0.1, 0.2) * 2, box_score=(0.9, 0.8),
                      text=("東京タワー", "Exit 3"), text_score=(0.95, 0.85))
    with trio.fail_after(LIMIT):
        async with pool.connection() as conn, conn.transaction():
            await actor._store(conn, asset_id=asset_id, result=first)
        async with pool.connection() as conn:
            cur = await conn.execute('SELECT text, "boxScore", "isVisible" FROM asset_ocr ORDER BY "boxScore" DESC')
            assert [tuple(r.values()) for r in await cur.fetchall()] == [("東京タワー", 0.9, True), ("Exit 3", 0.8, True)]
            cur = await conn.execute('SELECT text FROM ocr_search WHERE "assetId" = %s', (asset_id,))
            assert (await cur.fetchone()) == {"text": "東京 京タ タワ ワー Exit 3"}
            cur = await conn.execute('SELECT "ocrAt" FROM asset_job_status WHERE "assetId" = %s', (asset_id,))
            assert (await cur.fetchone()) == {"ocrAt": NOW}
        # nothing read the second time: boxes and search text gone, their deletion audited
        async with pool.connection() as conn, conn.transaction():
            await actor._store(conn, asset_id=asset_id, result=OcrResult())
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT (SELECT count(*) FROM asset_ocr) AS boxes, (SELECT count(*) FROM ocr_search) AS texts,"
                ' (SELECT count(*) FROM asset_ocr_audit WHERE "assetId" = %s) AS audited',
                (asset_id,),
            )
            assert await cur.fetchone() == {"boxes": 0, "texts": 0, "audited": 2}


async def test_on_a_cropped_image_what_the_crop_cut_is_hidden_at_once(pool: Pool, owner: str, tmp_path: Path) -> None:
    actor = _actor(pool, tmp_path)
    asset_id = await _asset(pool, owner)
    async with pool.connection() as conn:
        await conn.execute(
            'INSERT INTO asset_exif ("assetId", "exifImageWidth", "exifImageHeight") VALUES (%s, 800, 400)', (asset_id,)
        )
        await conn.execute(
            """INSERT INTO asset_edit ("assetId", action, parameters, sequence)"""
            """ VALUES (%s, 'crop', '{"x": 0, "y": 0, "width": 400, "height": 400}', 0)""",
            (asset_id,),
        )
    inside, outside = (0.1, 0.1, 0.3, 0.1, 0.3, 0.2, 0.1, 0.2), (0.6, 0.5, 0.9, 0.5, 0.9, 0.6, 0.6, 0.6)
    result = OcrResult(box=inside + outside, box_score=(0.9, 0.8), text=("Kept", "Cut off"), text_score=(0.9, 0.9))
    with trio.fail_after(LIMIT):
        async with pool.connection() as conn, conn.transaction():
            await actor._store(conn, asset_id=asset_id, result=result)
        async with pool.connection() as conn:
            cur = await conn.execute('SELECT text, "isVisible" FROM asset_ocr ORDER BY text DESC')
            assert [tuple(r.values()) for r in await cur.fetchall()] == [("Kept", True), ("Cut off", False)]
            cur = await conn.execute('SELECT text FROM ocr_search WHERE "assetId" = %s', (asset_id,))
            assert await cur.fetchone() == {"text": "Kept"}
