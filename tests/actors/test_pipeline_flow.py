"""One upload, end to end: the whole server tree in-process on a real database, driven over
HTTP, watched from the owner's socket room and the database."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio
from media_harness import LIMIT, POLL, Server, User, make_user, next_event, wait_for
from PIL import Image

from immich_trio.actors.notifier.hub import Hub, Subscription
from immich_trio.http import metrics
from immich_trio.http.socketio import EventRelay
from immich_trio.reactor import Backoff
from immich_trio.sql import events
from immich_trio.sql.driver import connect
from immich_trio.sql.pool import open_pool

CREATED_AT = "2024-01-15T10:30:00.000Z"
MODIFIED_AT = "2024-01-16T08:00:00.000Z"


async def upload(server: Server, user: User, data: bytes, filename: str) -> str:
    fields = {
        "deviceAssetId": f"{filename}-1",
        "deviceId": "pytest",
        "fileCreatedAt": CREATED_AT,
        "fileModifiedAt": MODIFIED_AT,
    }
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.post(
            "/api/assets",
            headers=user.headers,
            data=fields,
            files={"assetData": (filename, data, "application/octet-stream")},
        )
    assert resp.status_code == 201, resp.text
    asset_id: str = resp.json()["id"]
    return asset_id


def open_image(path: str) -> Image.Image:
    image = Image.open(io.BytesIO(Path(path).read_bytes()))
    image.load()
    return image


async def test_upload_runs_metadata_thumbnails_and_notifies_owner(
    server: Server, test_assets: Path
) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    other = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    other_sub = server.hub.attach(user_id=other.id, session_id=None)
    camera = test_assets / "metadata/gps-position/empty_gps.jpg"  # 4640x3472, motorola
    gps = test_assets / "metadata/gps-position/thompson-springs.jpg"

    with trio.fail_after(LIMIT):
        camera_id = await upload(server, user, camera.read_bytes(), "camera.jpg")
        [dto] = await next_event(sub, "on_upload_success")
        [ready] = await next_event(sub, "AssetUploadReadyV2")
        gps_id = await upload(server, user, gps.read_bytes(), "gps.jpg")
        [gps_dto] = await next_event(sub, "on_upload_success")

    # The owner's sockets heard of it, with the processed asset; nobody else did.
    assert dto["id"] == camera_id and gps_dto["id"] == gps_id
    assert dto["ownerId"] == user.id and dto["isFavorite"] is False
    assert dto["thumbhash"] and dto["exifInfo"]["make"] == "motorola"
    assert dto["width"] == 4640 and dto["height"] == 3472
    assert ready["asset"]["id"] == camera_id and ready["exif"]["assetId"] == camera_id
    assert ready["asset"]["thumbhash"] == dto["thumbhash"]
    assert ready["exif"]["model"] == "moto g(9) plus"
    assert ready["asset"]["fileCreatedAt"].endswith("Z")
    with pytest.raises(trio.WouldBlock):
        while True:  # only on_server_version was queued for the other user
            frame = other_sub._receive.receive_nowait()
            assert "on_server_version" in frame

    # asset_exif holds what the files carry.
    [(make, model, taken, width, height, size)] = server.sql(
        'SELECT make, model, "dateTimeOriginal", "exifImageWidth", "exifImageHeight",'
        ' "fileSizeInByte" FROM asset_exif WHERE "assetId" = %s',
        (camera_id,),
    )
    assert (make, model) == ("motorola", "moto g(9) plus")
    assert taken.strftime("%Y-%m-%d %H:%M:%S") == "2025-06-01 16:59:26"
    assert (width, height, size) == (4640, 3472, camera.stat().st_size)
    [(lat, lon, gps_taken, zone)] = server.sql(
        'SELECT latitude, longitude, "dateTimeOriginal", "timeZone" FROM asset_exif'
        ' WHERE "assetId" = %s',
        (gps_id,),
    )
    assert lat == pytest.approx(39.115) and lon == pytest.approx(-108.400968, abs=1e-5)
    # The zoneless capture time is local time at the GPS position (Utah, UTC-7 in January):
    # the zone from GPS comes before the stray -04:00 of the IPTC time, as in exiftool-vendored.
    assert gps_taken.isoformat() == "2022-01-10T22:15:44.310000+00:00"  # 15:15:44.31-07:00
    assert zone == "America/Denver"

    # The asset's dates come from the file now, not from the upload form.
    [(created, local, thumbhash, extracted)] = server.sql(
        'SELECT a."fileCreatedAt", a."localDateTime", a.thumbhash, s."metadataExtractedAt"'
        ' FROM asset a JOIN asset_job_status s ON s."assetId" = a.id WHERE a.id = %s',
        (gps_id,),
    )
    assert created.isoformat() == "2022-01-10T22:15:44.310000+00:00"
    assert local.isoformat() == "2022-01-10T15:15:44.310000+00:00"
    assert thumbhash and extracted is not None

    # Preview and thumbnail at Immich's paths, real images of the right size.
    files = dict(
        server.sql(
            'SELECT type, path FROM asset_file WHERE "assetId" = %s AND NOT "isEdited"', (camera_id,)
        )
    )
    media = server.runtime.settings.media_location.absolute()
    prefix = media / "thumbs" / user.id / camera_id[:2] / camera_id[2:4]
    assert files == {
        "preview": str(prefix / f"{camera_id}_preview.jpeg"),
        "thumbnail": str(prefix / f"{camera_id}_thumbnail.webp"),
    }
    preview = open_image(files["preview"])
    assert preview.format == "JPEG" and min(preview.size) == 1440
    thumbnail = open_image(files["thumbnail"])
    assert thumbnail.format == "WEBP" and min(thumbnail.size) == 250

    # Nothing left to do.
    assert server.sql("SELECT queue, name, status FROM immich_trio.job") == []


async def test_a_png_uploaded_with_a_raw_extension_gets_its_preview_and_thumbnail(
    server: Server, test_assets: Path
) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    png = (test_assets / "formats/png/density_plot.png").read_bytes()  # 800x800

    with trio.fail_after(LIMIT):
        asset_id = await upload(server, user, png, "photo.arw")
        [dto] = await next_event(sub, "on_upload_success")

    assert dto["id"] == asset_id and dto["originalMimeType"] == "image/arw"
    assert dto["thumbhash"] and (dto["width"], dto["height"]) == (800, 800)
    assert (dto["exifInfo"]["exifImageWidth"], dto["exifInfo"]["exifImageHeight"]) == (800, 800)
    paths = dict(server.sql('SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)))
    preview = open_image(paths["preview"])
    assert preview.format == "JPEG" and preview.size == (800, 800)  # never enlarged
    thumbnail = open_image(paths["thumbnail"])
    assert thumbnail.format == "WEBP" and thumbnail.size == (250, 250)
    assert server.sql("SELECT name, status FROM immich_trio.job") == []


async def test_corrupt_jpeg_fails_its_thumbnail_job_and_the_next_file_still_processes(
    server: Server, test_assets: Path
) -> None:
    server.dispatcher.retry_backoff = Backoff(initial=0.1, factor=1.0, cap=0.1)
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    good = (test_assets / "formats/jpg/el_torcal_rocks.jpg").read_bytes()
    truncated = good[: len(good) // 3]

    with trio.fail_after(LIMIT):
        bad_id = await upload(server, user, truncated, "truncated.jpg")
        await wait_for(
            server,
            "SELECT name, status, attempts FROM immich_trio.job WHERE \"assetId\" = %s",
            (bad_id,),
            [("AssetGenerateThumbnails", "failed", 1)],
        )
        good_id = await upload(server, user, good, "good.jpg")
        [dto] = await next_event(sub, "on_upload_success")

    [(error,)] = server.sql(
        'SELECT error FROM immich_trio.job WHERE "assetId" = %s', (bad_id,)
    )
    assert "cannot decode image" in error and "truncated" in error
    assert dto["id"] == good_id  # the thumbnailer survived; the bad asset was never announced
    # Metadata of the truncated file was still extracted (its header is intact).
    [(make,)] = server.sql('SELECT make FROM asset_exif WHERE "assetId" = %s', (bad_id,))
    assert make == "SONY"
    assert server.sql('SELECT type FROM asset_file WHERE "assetId" = %s', (bad_id,)) == []
    assert server.sql(
        'SELECT count(*) FROM asset_file WHERE "assetId" = %s', (good_id,)
    ) == [(2,)]

    # The status tree shows the workers, their counts and the queues.
    admin = await trio.to_thread.run_sync(
        partial(make_user, server.db_url, "admin@example.com", is_admin=True)
    )
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.get("/api/reactor/status", headers=admin.headers)
    assert resp.status_code == 200
    tree = resp.json()
    [root] = tree["supervisors"]
    [media] = [node for node in root["children"] if node["name"] == "media"]
    nodes = {node["name"]: node for node in media["children"]}
    assert {"upload-recovery", "uploader", "dispatcher", "metadata", "thumbnailer", "queue-all",
            "event-relay"} <= set(nodes)
    thumbs = nodes["thumbnailer"]
    assert thumbs["state"] == "running" and thumbs["inbox"]["capacity"] > 0
    assert thumbs["extra"]["failed"] == 1 and thumbs["extra"]["success"] >= 1
    assert thumbs["extra"]["limit"] == 3  # job.thumbnailGeneration.concurrency default
    assert "in_flight" in thumbs and nodes["metadata"]["extra"]["exiftool"]["requests"] >= 2
    assert "thumbnailGeneration" in nodes["dispatcher"]["extra"]["queues"]
    assert "thumbnailGeneration" in tree["queues"]
    # The same numbers in Prometheus' format (served on the metrics port when telemetry is on).
    assert server.runtime.status is not None
    text = metrics.render(server.runtime.status())
    assert 'immich_trio_queue_jobs{queue="thumbnailGeneration",state="failed"}' in text


# -- the event relay on its own ------------------------------------------------------------


async def publish(db_url: str, user_id: str, event: str, ref: str) -> None:
    """Publish from another connection, committed."""
    conn = await connect(db_url, autocommit=True)
    try:
        async with conn.transaction():
            await events.publish(conn, user_id, event, ref)
    finally:
        await conn.close()


def add_asset(db_url: str, owner: str, *, visibility: str, exif: bool) -> str:
    asset_id = str(uuid.uuid4())
    now = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
            ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", visibility,'
            " thumbhash) VALUES (%s, %s, 'IMAGE', '/x.jpg', 'x.jpg', %s, 'sha1', %s, %s, %s, %s,"
            " %s)",
            (asset_id, owner, os.urandom(20), now, now, now, visibility, b"\x01\x02"),
        )
        if exif:
            conn.execute(
                'INSERT INTO asset_exif ("assetId", make, "fileSizeInByte", "dateTimeOriginal")'
                " VALUES (%s, 'Canon', 123, %s)",
                (asset_id, now),
            )
    return asset_id


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (state of a task that signals nothing) under the caller's deadline."""
    while True:
        if condition():
            return
        await trio.sleep(POLL)


def received(sub: Subscription) -> list[list[Any]]:
    out: list[list[Any]] = []
    while True:
        try:
            frame = sub._receive.receive_nowait()
        except trio.WouldBlock:
            return out
        out.append(json.loads(frame[2:]))


async def test_relay_sends_committed_events_by_visibility_and_survives_a_dropped_connection(
    db_url: str, nursery: trio.Nursery
) -> None:
    owner = (await trio.to_thread.run_sync(make_user, db_url, "owner@example.com")).id
    hub = Hub()
    sub = hub.attach(user_id=owner, session_id=None)
    received(sub)  # on_server_version
    async with open_pool(db_url) as pool:
        relay = EventRelay(pool, hub)
        with trio.fail_after(LIMIT):
            await nursery.start(relay.run)
            timeline = add_asset(db_url, owner, visibility="timeline", exif=True)
            archived = add_asset(db_url, owner, visibility="archive", exif=False)
            hidden = add_asset(db_url, owner, visibility="hidden", exif=True)
            await publish(db_url, owner, "on_upload_success", hidden)
            await publish(db_url, owner, "on_upload_success", archived)
            await publish(db_url, owner, "on_upload_success", timeline)
            await publish(db_url, owner, "on_upload_success", str(uuid.uuid4()))  # deleted
            await publish(db_url, owner, "not_an_event", timeline)
            await until(lambda: relay.statistics().received == 5)
            events_seen = received(sub)
            assert [(e[0], e[1]["id"]) for e in events_seen if e[0] == "on_upload_success"] == [
                ("on_upload_success", archived),
                ("on_upload_success", timeline),
            ]
            [ready] = [e[1] for e in events_seen if e[0] == "AssetUploadReadyV2"]
            assert ready["asset"]["id"] == timeline and ready["asset"]["thumbhash"] == "AQI="
            assert ready["exif"]["make"] == "Canon" and ready["exif"]["fileSizeInByte"] == 123
            assert ready["exif"]["dateTimeOriginal"] == "2024-01-15T10:30:00.000Z"
            assert set(ready["asset"]) >= {"checksum", "isEdited", "stackId", "libraryId"}
            assert relay.statistics().delivered == 2

            # The server drops the LISTEN connection: the relay reconnects by itself.
            with psycopg.connect(db_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE %s AND pid <> pg_backend_pid()",
                    (f"LISTEN {events.CHANNEL}%",),
                )
            await until(lambda: relay.statistics().reconnects == 1 and relay.statistics().listening)
            await publish(db_url, owner, "on_asset_update", timeline)
            await until(lambda: relay.statistics().delivered == 3)
            assert [e[0] for e in received(sub)] == ["on_asset_update"]
        nursery.cancel_scope.cancel()
