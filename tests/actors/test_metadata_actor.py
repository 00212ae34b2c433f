"""The metadata actor on a real database and the real exiftool: what a job's answer writes."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.metadata.actor import MetadataActor
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

LIMIT = 30  # real clock: exiftool and PostgreSQL
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FORM_DATE = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)

Sql = Callable[..., list[tuple[Any, ...]]]


async def start(nursery: trio.Nursery, pool: Pool, media: Path, **kwargs: Any) -> MetadataActor:
    actor = MetadataActor(pool, media, now=lambda: NOW, timezone_lookup=None, **kwargs)
    await nursery.start(actor.run)
    return actor


def add_asset(
    sql: Sql,
    media: Path,
    owner: str,
    source: Path | None,
    *,
    name: str = "photo.jpg",
    sidecar: Path | None = None,
    kind: str = "IMAGE",
) -> tuple[str, Path]:
    """An asset as the uploader leaves it: row, exif size, file in place (unless None)."""
    asset_id = str(uuid.uuid4())
    path = files.upload_path(media, owner, uuid.uuid4(), Path(name).suffix)
    if source is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, %s, %s, %s, %s, 'sha1', %s, %s, %s)",
        (asset_id, owner, kind, str(path), name, os.urandom(20), FORM_DATE, FORM_DATE, FORM_DATE),
    )
    sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)', (asset_id, 1))
    if sidecar is not None:
        xmp = files.sidecar_upload_path(media, owner, uuid.uuid4())
        xmp.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sidecar, xmp)
        sql(
            "INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'sidecar', %s)",
            (asset_id, str(xmp)),
        )
    return asset_id, path


async def run_job(actor: MetadataActor, asset_id: str, source: str | None = "upload") -> JobResult:
    data: dict[str, Any] = {"id": asset_id}
    if source is not None:
        data["source"] = source
    job = Job(
        id=1,
        queue="metadataExtraction",
        name="AssetExtractMetadata",
        data=data,
        attempt=1,
        max_attempts=3,
        created_at=NOW,
    )
    with trio.fail_after(LIMIT):
        result: JobResult = await actor.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


async def commit(pool: Pool, result: JobResult) -> None:
    assert result.apply is not None
    async with pool.connection() as conn, conn.transaction():
        await result.apply(conn)


async def test_extracts_exif_dates_and_size_and_queues_thumbnails(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    source = test_assets / "formats/jpg/el_torcal_rocks.jpg"
    asset_id, path = add_asset(sql, media, owner, source)

    result = await run_job(actor, asset_id)
    assert result.status == "success" and result.error is None
    assert sql('SELECT count(*) FROM asset_job_status') == [(0,)]  # nothing before apply
    await commit(pool, result)

    [(make, model, taken, width, height, size, modify)] = sql(
        'SELECT make, model, "dateTimeOriginal", "exifImageWidth", "exifImageHeight",'
        ' "fileSizeInByte", "modifyDate" FROM asset_exif WHERE "assetId" = %s',
        (asset_id,),
    )
    assert (make, model) == ("SONY", "DSLR-A550")
    assert taken == datetime(2012, 8, 5, 11, 39, 59, tzinfo=UTC)  # no zone: read as UTC
    assert (width, height, size) == (512, 341, source.stat().st_size)
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    assert abs((modify - mtime).total_seconds()) < 0.001  # the file's mtime, to the ms
    [(created, local, fwidth, fheight, extracted)] = sql(
        'SELECT a."fileCreatedAt", a."localDateTime", a.width, a.height, s."metadataExtractedAt"'
        ' FROM asset a JOIN asset_job_status s ON s."assetId" = a.id WHERE a.id = %s',
        (asset_id,),
    )
    assert created == local == datetime(2012, 8, 5, 11, 39, 59, tzinfo=UTC)
    assert (fwidth, fheight) == (512, 341) and extracted == NOW
    # Immich's AssetMetadataExtracted: the storage template job next (thumbnails after it)
    assert sql('SELECT queue, name, data FROM immich_trio.job') == [
        ("storageTemplateMigration", "StorageTemplateMigrationSingle", {"id": asset_id, "source": "upload"})
    ]


async def test_locked_properties_survive_and_other_sources_queue_no_thumbnails(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    asset_id, _ = add_asset(sql, media, owner, test_assets / "metadata/tags/picasa.jpg")
    sql(
        'UPDATE asset_exif SET description = %s, make = %s, "lockedProperties" = %s'
        ' WHERE "assetId" = %s',
        ("my words", "my camera", ["description", "make"], asset_id),
    )

    await commit(pool, await run_job(actor, asset_id, source=None))  # e.g. QueueAll

    [(description, make, model)] = sql(
        'SELECT description, make, model FROM asset_exif WHERE "assetId" = %s', (asset_id,)
    )
    assert (description, make) == ("my words", "my camera")
    assert model == "Canon PowerShot SD1100 IS"
    # no source: the template job follows, and queues no thumbnails after it
    assert sql("SELECT name, data FROM immich_trio.job") == [("StorageTemplateMigrationSingle", {"id": asset_id})]


async def test_sidecar_dates_override_the_file(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    asset_id, _ = add_asset(
        sql,
        media,
        owner,
        test_assets / "formats/jpg/el_torcal_rocks.jpg",
        sidecar=test_assets / "metadata/xmp/dates/2010.xmp",  # UTF-16, CreateDate +02:00
    )
    await commit(pool, await run_job(actor, asset_id))
    [(taken, zone, make)] = sql(
        'SELECT "dateTimeOriginal", "timeZone", make FROM asset_exif WHERE "assetId" = %s',
        (asset_id,),
    )
    assert taken == datetime(2010, 9, 27, 12, 35, 33, tzinfo=UTC)
    assert zone == "UTC+2" and make == "SONY"


async def test_vanished_file_fails_and_the_actor_carries_on(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    gone_id, _ = add_asset(sql, media, owner, None)
    result = await run_job(actor, gone_id)
    assert result.status == "failed" and result.apply is None
    assert result.error is not None and result.error.startswith("FileNotFoundError")

    deleted = str(uuid.uuid4())  # an asset deleted before its job ran: nothing to do
    assert (await run_job(actor, deleted)).status == "skipped"

    ok_id, _ = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")
    assert (await run_job(actor, ok_id)).status == "success"
    assert actor.extra_status()["failed"] == 1


async def test_hung_exiftool_times_out_and_fails_the_job(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path,
    test_assets: Path,
) -> None:
    hang = tmp_path / "exiftool-that-hangs"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    hang.chmod(hang.stat().st_mode | stat.S_IXUSR)
    actor = await start(nursery, pool, media, executable=str(hang), exiftool_timeout=0.5)
    asset_id, _ = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")

    first = await run_job(actor, asset_id)
    second = await run_job(actor, asset_id)  # a fresh process, and still an answer
    assert first.status == second.status == "failed"
    assert first.error == "TooSlowError"
    exiftool = actor.extra_status()["exiftool"]
    assert isinstance(exiftool, dict) and exiftool["failures"] == 2


# -- videos (probed with PyAV) ------------------------------------------------------------


async def test_video_probe_sets_duration_fps_and_rotated_dimensions(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    from tests.actors.video_samples import make_video

    actor = await start(nursery, pool, media)
    source = make_video(tmp_path / "clip.mp4", width=64, height=48, fps=12, frames=30, rotation=-90, audio=True)
    asset_id, _ = add_asset(sql, media, owner, source, name="clip.mp4", kind="VIDEO")

    result = await run_job(actor, asset_id)
    assert result.status == "success", result.error
    await commit(pool, result)

    [(duration, width, height)] = sql("SELECT duration, width, height FROM asset WHERE id = %s", (asset_id,))
    assert duration == 2500  # ms (v3 schema), from the container
    assert (width, height) == (48, 64)  # displayed: the 90° turn swaps the sides
    [(fps, ew, eh, orientation)] = sql(
        'SELECT fps, "exifImageWidth", "exifImageHeight", orientation FROM asset_exif WHERE "assetId" = %s',
        (asset_id,),
    )
    assert (fps, ew, eh, orientation) == (12.0, 64, 48, "6")  # coded size; -90° is EXIF 6


async def test_unreadable_videos_fail_with_a_reason_and_the_actor_carries_on(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, test_assets: Path
) -> None:
    from tests.actors.video_samples import make_audio_only, make_video

    actor = await start(nursery, pool, media)
    good = make_video(tmp_path / "good.mp4")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    asset_id, path = add_asset(sql, media, owner, truncated, name="v.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id)
    assert result.status == "failed" and result.error is not None and "cannot open video" in result.error
    assert path.exists() and sql("SELECT count(*) FROM asset WHERE id = %s", (asset_id,)) == [(1,)]
    # No video stream is no probe failure for Immich's ffprobe: the thumbnail job fails instead.
    silent = make_audio_only(tmp_path / "audio.mp4")
    asset_id, _ = add_asset(sql, media, owner, silent, name="v.mp4", kind="VIDEO")
    assert (await run_job(actor, asset_id)).status == "success"
    asset_id, _ = add_asset(sql, media, owner, good, name="good.mp4", kind="VIDEO")
    assert (await run_job(actor, asset_id)).status == "success"



async def test_a_jpeg_named_mp4_is_probed_as_a_one_frame_mjpeg_video(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # As ffprobe reads it for Immich: one MJPEG frame, no container duration; the job succeeds.
    from PIL import Image

    actor = await start(nursery, pool, media)
    source = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48), (30, 200, 60)).save(source, "JPEG")
    asset_id, _ = add_asset(sql, media, owner, source, name="photo.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id)
    assert result.status == "success", result.error
    await commit(pool, result)
    [(width, height)] = sql("SELECT width, height FROM asset WHERE id = %s", (asset_id,))
    assert (width, height) == (64, 48)
