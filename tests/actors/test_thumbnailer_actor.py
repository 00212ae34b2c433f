"""The thumbnailer actor on a real database: files on disk, rows and events its answers commit."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

from immich_trio import sysconfig
from immich_trio.actors.config_watch import ConfigWatch
from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.thumbnailer.actor import ThumbnailerActor
from immich_trio.sql import events
from immich_trio.sql.driver import connect
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from immich_trio.storage import files

LIMIT = 30  # real clock: decoding runs in threads
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
async def actor(
    nursery: trio.Nursery, pool: Pool, media: Path, config_watch: ConfigWatch
) -> ThumbnailerActor:
    actor = ThumbnailerActor(pool, media)
    await nursery.start(actor.run)
    return actor


async def save_config(pool: Pool, watch: ConfigWatch, config: sysconfig.Config) -> None:
    """Save as ``PUT /system-config`` does; return once the watch has told the listeners."""
    before = watch.statistics().reloads
    async with pool.connection() as conn, conn.transaction():
        await sysconfig.save(conn, config)
    with trio.fail_after(10):
        while watch.statistics().reloads == before:  # noqa: ASYNC110
            await trio.sleep(0.01)


def add_asset(
    sql: Sql,
    media: Path,
    owner: str,
    source: Path | bytes,
    *,
    name: str = "photo.jpg",
    kind: str = "IMAGE",
    visibility: str = "timeline",
) -> tuple[str, Path]:
    asset_id = str(uuid.uuid4())
    path = files.upload_path(media, owner, uuid.uuid4(), Path(name).suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        shutil.copyfile(source, path)
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", visibility)'
        " VALUES (%s, %s, %s, %s, %s, %s, 'sha1', %s, %s, %s, %s)",
        (asset_id, owner, kind, str(path), name, os.urandom(20), NOW, NOW, NOW, visibility),
    )
    return asset_id, path


async def run_job(actor: ThumbnailerActor, asset_id: str, **data: Any) -> JobResult:
    job = Job(
        id=1,
        queue="thumbnailGeneration",
        name="AssetGenerateThumbnails",
        data={"id": asset_id, **data},
        attempt=1,
        max_attempts=3,
        created_at=NOW,
    )
    with trio.fail_after(LIMIT):
        result: JobResult = await actor.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


async def apply(pool: Pool, result: JobResult, *, rollback: bool = False) -> None:
    assert result.apply is not None

    class Rollback(Exception):
        pass

    try:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)
            if rollback:
                raise Rollback
    except Rollback:
        pass


async def applied_events(db_url: str, pool: Pool, result: JobResult, **kw: bool) -> list[Any]:
    """Payloads NOTIFYed by applying ``result`` (seen from another connection)."""
    listener = await connect(db_url, autocommit=True)
    try:
        await listener.execute(f"LISTEN {events.CHANNEL}")
        await apply(pool, result, **kw)
        payloads: list[Any] = []
        with trio.move_on_after(0.5):
            async with aclosing(listener.notifies()) as notifications:
                async for notification in notifications:
                    payloads.append(json.loads(notification.payload))
        return payloads
    finally:
        await listener.close()


async def test_writes_preview_thumbnail_and_thumbhash_then_announces_the_upload(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, db_url: str,
    test_assets: Path,
) -> None:
    asset_id, _ = add_asset(sql, media, owner, test_assets / "albums/nature/prairie_falcon.jpg")
    result = await run_job(actor, asset_id, source="upload")
    assert result.status == "success"
    preview = files.thumbnail_path(media, owner, asset_id, "preview", "jpeg")
    thumbnail = files.thumbnail_path(media, owner, asset_id, "thumbnail", "webp")
    assert preview.is_file() and thumbnail.is_file()  # written before the answer
    assert sql('SELECT count(*) FROM asset_file') == [(0,)]  # rows only at commit

    payloads = await applied_events(db_url, pool, result)

    assert payloads == [{"u": owner, "e": "on_upload_success", "r": asset_id}]
    rows = sql(
        'SELECT type, path, "isProgressive", "isTransparent" FROM asset_file'
        ' WHERE "assetId" = %s ORDER BY type',
        (asset_id,),
    )
    assert rows == [
        ("preview", str(preview), False, False),
        ("thumbnail", str(thumbnail), False, False),
    ]
    [(thumbhash, width, height)] = sql(
        "SELECT thumbhash, width, height FROM asset WHERE id = %s", (asset_id,)
    )
    assert thumbhash and (width, height) == (800, 533)  # filled in: metadata had none
    with Image.open(thumbnail) as image:
        assert image.format == "WEBP" and min(image.size) == 250
    with Image.open(preview) as image:
        assert image.format == "JPEG" and image.size == (800, 533)  # never enlarged


async def test_rolled_back_apply_sends_no_event_and_other_sources_send_none(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, db_url: str,
    test_assets: Path,
) -> None:
    asset_id, _ = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")
    result = await run_job(actor, asset_id, source="upload")
    assert await applied_events(db_url, pool, result, rollback=True) == []
    assert sql("SELECT thumbhash FROM asset WHERE id = %s", (asset_id,)) == [(None,)]

    again = await run_job(actor, asset_id)  # e.g. from QueueAll: no source
    assert await applied_events(db_url, pool, again) == []
    assert sql('SELECT count(*) FROM asset_file WHERE "assetId" = %s', (asset_id,)) == [(2,)]

    notified = await run_job(actor, asset_id, notify=True)
    assert len(await applied_events(db_url, pool, notified)) == 1


async def test_hidden_assets_and_other_types_are_skipped(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, db_url: str,
    test_assets: Path,
) -> None:
    hidden_id, _ = add_asset(
        sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg", visibility="hidden"
    )
    hidden = await run_job(actor, hidden_id, source="upload")
    assert hidden.status == "skipped" and hidden.apply is None

    video_id, _ = add_asset(sql, media, owner, b"\x00" * 64, name="clip.bin", kind="OTHER")
    video = await run_job(actor, video_id, source="upload")
    assert video.status == "skipped"
    # Immich still announces a skipped upload (the relay checks its visibility).
    assert [p["r"] for p in await applied_events(db_url, pool, video)] == [video_id]
    assert not (media / "thumbs").exists()


async def test_corrupt_file_fails_with_the_reason_and_the_actor_carries_on(
    actor: ThumbnailerActor, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    good = (test_assets / "formats/jpg/el_torcal_rocks.jpg").read_bytes()
    bad_id, _ = add_asset(sql, media, owner, good[: len(good) // 2])
    junk_id, _ = add_asset(sql, media, owner, os.urandom(4096), name="junk.png")

    bad = await run_job(actor, bad_id)
    junk = await run_job(actor, junk_id)
    assert bad.status == junk.status == "failed"
    assert bad.error is not None and "truncated" in bad.error
    assert junk.error is not None and "cannot decode image" in junk.error
    assert not (media / "thumbs").exists()  # nothing half-written

    ok_id, _ = add_asset(sql, media, owner, good)
    assert (await run_job(actor, ok_id)).status == "success"
    status = actor.extra_status()
    assert status["failed"] == 2 and status["success"] == 1


@pytest.mark.parametrize(
    ("asset", "name", "size"),
    [
        ("formats/png/density_plot.png", "photo.arw", (800, 800)),
        ("formats/jpg/el_torcal_rocks.jpg", "photo.dng", (512, 341)),
        ("formats/heic/IMG_2682.heic", "IMG_2682.jpg", (4032, 3024)),
        ("formats/webp/denali.webp", "denali.NEF", None),
    ],
)
async def test_the_decoder_follows_the_content_not_the_extension(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path,
    asset: str, name: str, size: tuple[int, int] | None,
) -> None:
    asset_id, _ = add_asset(sql, media, owner, test_assets / asset, name=name)
    result = await run_job(actor, asset_id)
    assert result.status == "success", result.error
    await apply(pool, result)

    [(width, height)] = sql("SELECT width, height FROM asset WHERE id = %s", (asset_id,))
    if size is not None:
        assert (width, height) == size
    preview = files.thumbnail_path(media, owner, asset_id, "preview", "jpeg")
    thumbnail = files.thumbnail_path(media, owner, asset_id, "thumbnail", "webp")
    with Image.open(preview) as image:
        assert image.format == "JPEG" and min(image.size) == min(1440, width, height)
    with Image.open(thumbnail) as image:
        assert image.format == "WEBP" and min(image.size) == min(250, width, height)


async def test_fullsize_for_formats_browsers_cannot_show(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path,
    config_watch: ConfigWatch,
) -> None:
    jpeg_first, _ = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")
    await apply(pool, await run_job(actor, jpeg_first))  # the actor now holds the config
    async with pool.connection() as conn:
        config = await sysconfig.load(conn)
    config["image"]["fullsize"]["enabled"] = True
    await save_config(pool, config_watch, config)
    heic_id, _ = add_asset(
        sql, media, owner, test_assets / "formats/heic/IMG_2682.heic", name="IMG_2682.HEIC"
    )
    jpeg_id, _ = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")
    await apply(pool, await run_job(actor, heic_id))
    await apply(pool, await run_job(actor, jpeg_id))

    fullsize = files.thumbnail_path(media, owner, heic_id, "fullsize", "jpeg")
    assert sql(
        "SELECT path, \"isProgressive\" FROM asset_file WHERE type = 'fullsize'"
    ) == [(str(fullsize), False)]
    with Image.open(fullsize) as image:
        assert image.format == "JPEG"

    config["image"]["fullsize"]["enabled"] = False  # disabled again: the row goes
    await save_config(pool, config_watch, config)
    await apply(pool, await run_job(actor, heic_id))
    assert sql("SELECT count(*) FROM asset_file WHERE type = 'fullsize'") == [(0,)]


async def test_concurrency_follows_the_system_config_live(
    actor: ThumbnailerActor, pool: Pool, config_watch: ConfigWatch
) -> None:
    assert actor.extra_status()["limit"] == 3  # Immich's default
    async with pool.connection() as conn:
        config = await sysconfig.load(conn)
    config["job"]["thumbnailGeneration"]["concurrency"] = 7
    await save_config(pool, config_watch, config)
    assert actor.extra_status()["limit"] == 7


# -- videos (frames decoded with PyAV) ----------------------------------------------------


async def test_video_gets_a_coloured_frame_after_a_black_opening(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    from tests.actors.video_samples import make_video

    # 1 s of black, then 2 s of green; 64x48 turned 90°.
    source = make_video(
        tmp_path / "fade.mp4", frames=36, rotation=90, audio=True,
        colour=lambda i: (0, 0, 0) if i < 12 else (30, 200, 60),
    )  # fmt: skip
    asset_id, _ = add_asset(sql, media, owner, source, name="fade.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id, source="upload")
    assert result.status == "success", result.error
    await apply(pool, result)

    rows = dict(sql('SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)))
    with Image.open(rows["preview"]) as preview:
        assert preview.format == "JPEG" and preview.size == (48, 64)  # small: never enlarged; turned
        r, g, b = preview.convert("RGB").getpixel((24, 32))  # type: ignore[misc]
        assert g > 150 and r < 90 and b < 110
    with Image.open(rows["thumbnail"]) as thumbnail:
        assert thumbnail.format == "WEBP" and thumbnail.size == (48, 64)
    [(thumbhash,)] = sql("SELECT thumbhash FROM asset WHERE id = %s", (asset_id,))
    assert thumbhash


async def test_bad_videos_fail_with_a_reason_and_the_actor_carries_on(
    actor: ThumbnailerActor, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    from tests.actors.video_samples import make_audio_only, make_video

    good = make_video(tmp_path / "good.mp4")
    bad = {
        "truncated": good.read_bytes()[: good.stat().st_size // 3],
        "no video stream": make_audio_only(tmp_path / "a.mp4").read_bytes(),
        "empty": b"",
    }
    for name, data in bad.items():
        asset_id, path = add_asset(sql, media, owner, data, name="v.mp4", kind="VIDEO")
        result = await run_job(actor, asset_id, source="upload")
        assert result.status == "failed" and result.error, name
        assert path.exists() and sql("SELECT count(*) FROM asset WHERE id = %s", (asset_id,)) == [(1,)]
        assert not list((media / "thumbs").rglob(f"{asset_id}*"))
    asset_id, _ = add_asset(sql, media, owner, good, name="good.mp4", kind="VIDEO")
    assert (await run_job(actor, asset_id, source="upload")).status == "success"


async def test_hdr10_video_thumbnail_is_tone_mapped_into_sdr(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    from immich_trio.actors.metadata.stream_probe import probe_streams
    from tests.actors.video_samples import make_video

    # 10-bit HEVC, BT.2020 + PQ. Pixel values are PQ code values: the left half a ~2000-nit
    # warm highlight, the right half ~70 nits (a mid-tone, well under 203-nit SDR white).
    source = make_video(
        tmp_path / "hdr.mp4", codec="libx265", pix_fmt="yuv420p10le", pq_hdr=True, frames=12,
        colour=lambda i: (215, 200, 185), right=lambda i: (110, 100, 90),
    )  # fmt: skip
    probe = probe_streams(str(source))
    assert probe.is_hdr and probe.video is not None
    assert (probe.video.pixel_format, probe.video.codec_name) == ("yuv420p10le", "hevc")
    assert (probe.video.color_primaries, probe.video.color_transfer) == (9, 16)

    asset_id, _ = add_asset(sql, media, owner, source, name="hdr.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id, source="upload")
    assert result.status == "success", result.error
    await apply(pool, result)
    rows = dict(sql('SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)))
    with Image.open(rows["preview"]) as preview:
        rgb = preview.convert("RGB")
        highlight = rgb.getpixel((8, 24))
        mid = rgb.getpixel((56, 24))
    assert isinstance(highlight, tuple) and isinstance(mid, tuple)
    # The highlight is compressed, not clipped to white, and keeps its warm hue; shown as raw
    # code values it would be a washed-out (215, 200, 185).
    assert highlight[0] > highlight[2] + 60 and min(highlight) < 220, highlight
    # The mid-tone is neither crushed nor blown out, and stays well under the highlight.
    assert 90 < max(mid) < 200 and sum(mid) < sum(highlight) - 150, (mid, highlight)


async def test_zero_frame_video_fails_with_a_reason_and_writes_nothing(
    actor: ThumbnailerActor, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    from immich_trio.actors.metadata.stream_probe import probe_streams
    from tests.actors.video_samples import make_video

    source = make_video(tmp_path / "empty.mp4", frames=0)
    # Metadata extraction probes it fine (Immich's ffprobe decodes nothing): no stream at all.
    assert probe_streams(str(source)).video is None
    asset_id, path = add_asset(sql, media, owner, source, name="empty.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id, source="upload")
    assert result.status == "failed" and result.error
    assert path.exists() and sql("SELECT count(*) FROM asset WHERE id = %s", (asset_id,)) == [(1,)]
    assert not list((media / "thumbs").rglob(f"{asset_id}*"))
    assert sql('SELECT count(*) FROM asset_file WHERE "assetId" = %s', (asset_id,)) == [(0,)]


async def test_a_jpeg_named_mp4_is_a_one_frame_mjpeg_video_as_immich_sees_it(
    actor: ThumbnailerActor, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    # The upload's extension makes it a VIDEO. ffprobe reads the content as a one-frame MJPEG
    # stream (format jpeg_pipe) and Immich's ffmpeg thumbnail chain decodes that frame, so the
    # asset stays a video whose thumbnail is the picture; it is not rejected or retyped.
    from immich_trio.actors.metadata.stream_probe import probe_streams

    source = tmp_path / "photo.mp4"
    Image.new("RGB", (64, 48), (30, 200, 60)).save(source, "JPEG", quality=95)
    probe = probe_streams(str(source))
    assert probe.video is not None
    assert (probe.format_name, probe.video.codec_name, probe.video.width, probe.video.height) == (
        "jpeg_pipe", "mjpeg", 64, 48,
    )  # fmt: skip

    asset_id, _ = add_asset(sql, media, owner, source, name="photo.mp4", kind="VIDEO")
    result = await run_job(actor, asset_id, source="upload")
    assert result.status == "success", result.error
    await apply(pool, result)
    rows = dict(sql('SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)))
    with Image.open(rows["preview"]) as preview:
        assert preview.size == (64, 48)
        r, g, b = preview.convert("RGB").getpixel((32, 24))  # type: ignore[misc]
        assert g > 150 and r < 90 and b < 110
    assert sql("SELECT type FROM asset WHERE id = %s", (asset_id,)) == [("VIDEO",)]
