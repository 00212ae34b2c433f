"""POST /api/assets and bulk-upload-check: behaviour.md §4, streamed to disk, nothing left on error."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from immich_trio import crypto
from immich_trio.actors.uploader import Uploader
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from immich_trio.storage import files
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]
BOUNDARY = "----immich-trio-test-boundary"
CREATED_AT = "2024-01-15T10:30:00.000Z"
MODIFIED_AT = "2024-01-16T08:00:00.000Z"
# Real-clock cap for tests that wait on threads, sockets and the database.
LIMIT = 20

def content(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def mtime(path: str | Path) -> float:
    return Path(path).stat().st_mtime


def size_of(path: str | Path) -> int:
    return Path(path).stat().st_size



Part = tuple[str, bytes | str, str | None]  # (name, value, filename or None for a text field)


def multipart(parts: Sequence[Part], boundary: str = BOUNDARY) -> bytes:
    out = bytearray()
    for name, value, filename in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            # Raw UTF-8 bytes in the header, as browsers and the mobile app send them.
            disposition += b'; filename="' + filename.encode() + b'"'
        out += b"Content-Disposition: " + disposition + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n"
        out += value.encode() if isinstance(value, str) else value
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def asset_parts(
    data: bytes, filename: str = "photo.jpg", *, extra: Sequence[Part] = (), file_last: bool = True
) -> list[Part]:
    fields: list[Part] = [
        ("deviceAssetId", "web-photo.jpg-123", None),  # v2 fields: accepted and ignored
        ("deviceId", "WEB", None),
        ("fileCreatedAt", CREATED_AT, None),
        ("fileModifiedAt", MODIFIED_AT, None),
        *extra,
    ]
    file: Part = ("assetData", data, filename)
    return [*fields, file] if file_last else [file, *fields]


def headers(user: UserCreds, **extra: str) -> dict[str, str]:
    return {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **extra}


def media_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.media_location / "upload"
    return sorted(p for p in root.rglob("*") if p.is_file())


def staging(runtime: Runtime) -> list[Path]:
    tmp = files.upload_tmp_dir(runtime.settings.media_location)
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def post(client: Any, user: UserCreds, body: bytes, **extra: str) -> Any:
    return await client.post("/api/assets", headers=headers(user, **extra), data=body)


# -- created ----------------------------------------------------------------------------


async def test_upload_creates_asset_file_row_exif_job_and_quota(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    data = os.urandom(300_000)
    meta = json.dumps([{"key": "mobile-app", "value": {"iCloudId": "abc"}}])
    extra: list[Part] = [("isFavorite", "true", None), ("metadata", meta, None), ("duration", "0", None)]
    resp = await post(client, user, multipart(asset_parts(data, "IMG_0001.JPG", extra=extra)))

    assert resp.status_code == 201
    body = await resp.get_json()
    assert list(body) == ["id", "status"]
    assert body["status"] == "created"
    asset_id = body["id"]

    [row] = sql(
        'SELECT "ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",'
        ' "fileCreatedAt", "fileModifiedAt", "localDateTime", "isFavorite", duration, visibility,'
        ' "libraryId", "deletedAt" FROM asset WHERE id = %s',
        (asset_id,),
    )
    owner, kind, path, name, checksum, algorithm, created, modified, local, favorite, duration, visibility, lib, deleted = row
    assert str(owner) == user.id and kind == "IMAGE" and name == "IMG_0001.JPG"
    assert bytes(checksum) == hashlib.sha1(data).digest() and algorithm == "sha1"
    assert created == local == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert modified == datetime(2024, 1, 16, 8, 0, tzinfo=UTC)
    assert favorite is True and duration is None and visibility == "timeline"
    assert lib is None and deleted is None

    # upload/<userId>/<uuid[0:2]>/<uuid[2:4]>/<uuid><ext>, case of the extension kept
    original = Path(path)
    assert original.is_absolute() and original.suffix == ".JPG"
    file_id = original.stem
    uuid.UUID(file_id)
    assert original == runtime.settings.media_location / "upload" / user.id / file_id[:2] / file_id[2:4] / original.name
    assert content(original) == data
    assert mtime(original) == datetime(2024, 1, 16, 8, 0, tzinfo=UTC).timestamp()
    assert media_files(runtime) == [original]
    assert staging(runtime) == []

    assert sql('SELECT "fileSizeInByte" FROM asset_exif WHERE "assetId" = %s', (asset_id,)) == [(300_000,)]
    assert sql('SELECT key, value FROM asset_metadata WHERE "assetId" = %s', (asset_id,)) == [
        ("mobile-app", {"iCloudId": "abc"})
    ]
    assert sql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)) == [(300_000,)]
    jobs = sql('SELECT queue, name, data, "assetId" FROM immich_trio.job')
    assert jobs == [("metadataExtraction", "AssetExtractMetadata", {"id": asset_id, "source": "upload"}, uuid.UUID(asset_id))]


async def test_video_fields_sidecar_and_visibility(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    extra: list[Part] = [
        ("duration", "4500", None),
        ("visibility", "archive", None),
        ("sidecarData", xmp, "clip.mov.xmp"),
    ]
    resp = await post(client, user, multipart(asset_parts(b"\x00\x00\x00\x18ftypqt  ", "clip.mov", extra=extra)))
    assert resp.status_code == 201
    asset_id = (await resp.get_json())["id"]
    assert sql('SELECT type, duration, visibility FROM asset WHERE id = %s', (asset_id,)) == [("VIDEO", 4500, "archive")]
    [(sidecar_path,)] = sql('SELECT path FROM asset_file WHERE "assetId" = %s AND type = %s', (asset_id, "sidecar"))
    sidecar = Path(sidecar_path)
    assert sidecar.suffix == ".xmp" and content(sidecar) == xmp
    assert sidecar.parent.parent.parent == runtime.settings.media_location / "upload" / user.id
    assert mtime(sidecar) == datetime(2024, 1, 16, 8, 0, tzinfo=UTC).timestamp()
    assert staging(runtime) == []


async def test_filename_field_wins_and_utf8_names(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    # The multipart name is not a supported type, but the filename field sent first is.
    parts = [("filename", "vacances d'été.HEIC", None), *asset_parts(b"heic bytes", "blob")]
    resp = await post(client, user, multipart(parts))
    assert resp.status_code == 201, await resp.get_data()
    asset_id = (await resp.get_json())["id"]
    [(name, path, kind)] = sql('SELECT "originalFileName", "originalPath", type FROM asset WHERE id = %s', (asset_id,))
    assert name == "vacances d'été.HEIC" and path.endswith(".HEIC") and kind == "IMAGE"

    # Raw UTF-8 bytes in the multipart file name (latin1 -> UTF-8 in Immich).
    resp = await post(client, user, multipart(asset_parts(b"other", "été 🌅.jpg")))
    assert resp.status_code == 201
    asset_id = (await resp.get_json())["id"]
    assert sql('SELECT "originalFileName" FROM asset WHERE id = %s', (asset_id,)) == [("été 🌅.jpg",)]


# -- duplicates ---------------------------------------------------------------------------


async def test_duplicate_by_unique_index_deletes_new_file(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    data = os.urandom(10_000)
    first = await post(client, user, multipart(asset_parts(data, "a.jpg")))
    assert first.status_code == 201
    first_id = (await first.get_json())["id"]
    before = media_files(runtime)

    again = await post(client, user, multipart(asset_parts(data, "b.png")))
    assert again.status_code == 200
    body = await again.get_json()
    assert list(body) == ["status", "id"]
    assert body == {"status": "duplicate", "id": first_id}
    assert media_files(runtime) == before
    assert staging(runtime) == []
    assert sql("SELECT count(*) FROM asset") == [(1,)]
    assert sql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)) == [(10_000,)]

    # Trashed assets still count; another user's identical file does not.
    sql('UPDATE asset SET "deletedAt" = now(), status = %s', ("trashed",))
    again = await post(client, user, multipart(asset_parts(data, "c.jpg")))
    assert (await again.get_json()) == {"status": "duplicate", "id": first_id}
    other = await make_user("other@example.com")
    resp = await post(client, other, multipart(asset_parts(data, "a.jpg")))
    assert resp.status_code == 201


async def test_checksum_header_answers_before_the_body(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser
) -> None:
    user = await make_user()
    data = os.urandom(5000)
    first = await post(client, user, multipart(asset_parts(data)))
    first_id = (await first.get_json())["id"]
    digest = hashlib.sha1(data).digest()

    for checksum in (base64.b64encode(digest).decode(), digest.hex()):
        # Headers only: the body is never sent, so a handler that read it would hang.
        with trio.fail_after(LIMIT):
            async with client.request(
                "/api/assets", method="POST", headers=headers(user, **{"x-immich-checksum": checksum})
            ) as connection:
                response = await connection.as_response()
        assert response.status_code == 200
        assert await response.get_json() == {"status": "duplicate", "id": first_id}

    # An unknown checksum means: go on and read the body.
    unknown = hashlib.sha1(b"nothing").hexdigest()
    resp = await post(client, user, multipart(asset_parts(b"new")), **{"x-immich-checksum": unknown})
    assert resp.status_code == 201


# -- refusals leave nothing behind --------------------------------------------------------


async def test_quota_exceeded(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    sql('UPDATE "user" SET "quotaSizeInBytes" = 1000, "quotaUsageInBytes" = 600 WHERE id = %s', (user.id,))
    resp = await post(client, user, multipart(asset_parts(os.urandom(401))))
    assert resp.status_code == 400
    assert await resp.get_json() == {"message": "Quota has been exceeded!"}
    # Far over the quota: refused while streaming.
    resp = await post(client, user, multipart(asset_parts(os.urandom(3 * 1024 * 1024))))
    assert (await resp.get_json()) == {"message": "Quota has been exceeded!"}
    assert media_files(runtime) == [] and sql("SELECT count(*) FROM asset") == [(0,)]

    resp = await post(client, user, multipart(asset_parts(os.urandom(400))))
    assert resp.status_code == 201
    assert sql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (user.id,)) == [(1000,)]


async def test_unsupported_type_empty_file_and_validation(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    resp = await post(client, user, multipart(asset_parts(b"text", "notes.txt")))
    assert resp.status_code == 400
    assert await resp.get_json() == {"message": "Unsupported file type notes.txt"}

    extra: list[Part] = [("sidecarData", b"x", "side.txt")]
    resp = await post(client, user, multipart(asset_parts(b"img", extra=extra, file_last=False)))
    assert await resp.get_json() == {"message": "Unsupported file type side.txt"}

    resp = await post(client, user, multipart(asset_parts(b"")))
    assert resp.status_code == 400
    assert await resp.get_json() == {"message": "File is empty"}

    resp = await post(client, user, multipart([("fileCreatedAt", "yesterday", None), ("assetData", b"x", "a.jpg")]))
    assert resp.status_code == 400
    body = await resp.get_json()
    assert body["message"] == "Validation failed"
    assert {tuple(issue["path"]) for issue in body["errors"]} == {("fileCreatedAt",), ("fileModifiedAt",)}

    resp = await post(client, user, multipart(asset_parts(b"x", extra=[("isFavorite", "yes", None)])))
    assert (await resp.get_json())["errors"][0]["path"] == ["isFavorite"]

    resp = await post(client, user, multipart([("fileCreatedAt", CREATED_AT, None), ("fileModifiedAt", MODIFIED_AT, None)]))
    assert (await resp.get_json())["errors"][0]["path"] == ["assetData"]

    assert media_files(runtime) == [] and sql("SELECT count(*) FROM asset") == [(0,)]


async def test_live_photo_link_hides_the_video(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    video = await post(client, user, multipart(asset_parts(b"mov", "IMG_1.MOV")))
    video_id = (await video.get_json())["id"]
    photo = await post(client, user, multipart(asset_parts(b"heic", "IMG_1.HEIC", extra=[("livePhotoVideoId", video_id, None)])))
    assert photo.status_code == 201
    photo_id = (await photo.get_json())["id"]
    assert sql('SELECT "livePhotoVideoId"::text FROM asset WHERE id = %s', (photo_id,)) == [(video_id,)]
    assert sql("SELECT visibility FROM asset WHERE id = %s", (video_id,)) == [("hidden",)]

    resp = await post(client, user, multipart(asset_parts(b"jpg2", "b.jpg", extra=[("livePhotoVideoId", photo_id, None)])))
    assert await resp.get_json() == {"message": "Live photo video must be a video"}
    assert media_files(runtime) == sorted(Path(p) for (p,) in sql('SELECT "originalPath" FROM asset'))


async def test_credentials_and_shared_links(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    body = multipart(asset_parts(b"data"))
    content_type = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    resp = await client.post("/api/assets", headers=content_type, data=body)
    assert resp.status_code == 401

    key = crypto.new_token()
    sql(
        'INSERT INTO api_key (name, key, "userId", permissions) VALUES (%s, %s, %s, %s)',
        ("read only", crypto.hash_token(key), user.id, ["asset.read"]),
    )
    resp = await client.post("/api/assets", headers={**content_type, "x-api-key": key}, data=body)
    assert resp.status_code == 403
    assert await resp.get_json() == {"message": "Missing required permission: asset.upload"}

    link_key = os.urandom(50)
    sql(
        'INSERT INTO shared_link ("userId", key, type, "allowUpload") VALUES (%s, %s, %s, false)',
        (user.id, link_key, "INDIVIDUAL"),
    )
    resp = await client.post(f"/api/assets?key={link_key.hex()}", headers=content_type, data=body)
    assert resp.status_code == 401
    assert await resp.get_json() == {"message": "Unauthorized"}

    sql("UPDATE shared_link SET \"allowUpload\" = true")
    resp = await client.post(f"/api/assets?key={link_key.hex()}", headers=content_type, data=body)
    assert resp.status_code == 201
    assert sql('SELECT "ownerId"::text FROM asset') == [(user.id,)]


# -- bulk-upload-check ------------------------------------------------------------------------


async def test_bulk_upload_check(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    kept, trashed = os.urandom(100), os.urandom(100)
    ids = []
    for data in (kept, trashed):
        resp = await post(client, user, multipart(asset_parts(data)))
        ids.append((await resp.get_json())["id"])
    sql('UPDATE asset SET "deletedAt" = now() WHERE id = %s', (ids[1],))
    new = hashlib.sha1(b"new").digest()
    request = {
        "assets": [
            {"id": "one", "checksum": base64.b64encode(hashlib.sha1(kept).digest()).decode()},
            {"id": "two", "checksum": hashlib.sha1(trashed).hexdigest()},
            {"id": "three", "checksum": base64.b64encode(new).decode()},
        ]
    }
    resp = await client.post("/api/assets/bulk-upload-check", headers=user.headers, json=request)
    assert resp.status_code == 200
    assert await resp.get_json() == {
        "results": [
            {"id": "one", "action": "reject", "reason": "duplicate", "assetId": ids[0], "isTrashed": False},
            {"id": "two", "action": "reject", "reason": "duplicate", "assetId": ids[1], "isTrashed": True},
            {"id": "three", "action": "accept"},
        ]
    }
    other = await make_user("other@example.com")
    resp = await client.post("/api/assets/bulk-upload-check", headers=other.headers, json=request)
    assert [r["action"] for r in (await resp.get_json())["results"]] == ["accept"] * 3

    resp = await client.post("/api/assets/bulk-upload-check", headers=user.headers, json={"assets": [{"id": 1}]})
    assert resp.status_code == 400


# -- a real server: streaming, backpressure, dropped connections ---------------------------


@pytest.fixture
async def server_port(runtime: Runtime, uploader: Uploader, nursery: trio.Nursery) -> int:
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn_serve, create_app(runtime), config))
    return int(binds[0].rsplit(":", 1)[1])


def request_head(user: UserCreds, length: int, **extra: str) -> bytes:
    lines = [
        "POST /api/assets HTTP/1.1",
        "Host: localhost",
        f"Authorization: Bearer {user.token}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {length}",
        *(f"{k}: {v}" for k, v in extra.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(stream: trio.SocketStream) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(65536)
        assert chunk, "connection closed before the response"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += await stream.receive_some(65536)
    return status, json.loads(rest[:length])


async def wait_until(predicate: Callable[[], bool]) -> None:
    # Polling: the file system and a remote server give no event to wait on.
    while not predicate():  # noqa: ASYNC110
        await trio.sleep(0.02)


async def test_real_server_checksum_header_with_no_body(
    server_port: int, runtime: Runtime, make_user: MakeUser, client: Any, sql: Sql
) -> None:
    user = await make_user()
    data = os.urandom(1000)
    first = await post(client, user, multipart(asset_parts(data)))
    first_id = (await first.get_json())["id"]
    with trio.fail_after(LIMIT):
        stream = await trio.open_tcp_stream("127.0.0.1", server_port)
        checksum = base64.b64encode(hashlib.sha1(data).digest()).decode()
        # Announces a 1 GB body and sends none of it.
        await stream.send_all(request_head(user, 10**9, **{"x-immich-checksum": checksum}))
        assert await read_response(stream) == (200, {"status": "duplicate", "id": first_id})
        await stream.aclose()


async def test_dropped_connection_leaves_no_row_and_no_file(
    server_port: int, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    body = multipart(asset_parts(os.urandom(8 * 1024 * 1024), "big.mp4"))
    with trio.fail_after(LIMIT):
        stream = await trio.open_tcp_stream("127.0.0.1", server_port)
        await stream.send_all(request_head(user, len(body)) + body[: len(body) // 2])
        # The first half is being written to the staging file...
        await wait_until(lambda: any(p.stat().st_size > 0 for p in staging(runtime)))
        await stream.aclose()
        # ...and the disconnect removes it.
        await wait_until(lambda: staging(runtime) == [])
    assert media_files(runtime) == []
    assert sql("SELECT count(*) FROM asset") == [(0,)]
    assert sql('SELECT "quotaUsageInBytes" FROM "user"') == [(0,)]


async def test_backpressure_bounds_what_the_server_takes(
    server_port: int, runtime: Runtime, make_user: MakeUser, sql: Sql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the disk is stalled the server stops reading: the client cannot push the body."""
    user = await make_user()
    disk = trio.Event()
    original_flush = files.StagedFile._flush

    async def stalled_flush(self: files.StagedFile) -> None:
        await disk.wait()
        await original_flush(self)

    monkeypatch.setattr(files.StagedFile, "_flush", stalled_flush)
    size = 64 * 1024 * 1024
    body = multipart(asset_parts(os.urandom(size), "big.mp4"))
    sent = 0

    async def push(stream: trio.SocketStream) -> None:
        nonlocal sent
        view = memoryview(request_head(user, len(body)) + body)
        for start in range(0, len(view), 65536):
            await stream.send_all(view[start : start + 65536])
            sent = start + 65536

    with trio.fail_after(LIMIT * 2):
        stream = await trio.open_tcp_stream("127.0.0.1", server_port)
        async with trio.open_nursery() as inner:
            inner.start_soon(push, stream)
            await trio.sleep(1.5)
            stalled_at = sent
            disk.set()
        status, reply = await read_response(stream)
        await stream.aclose()
    # Kernel socket buffers + Hypercorn's bounded queue + one write block: a few MB, not 64.
    assert stalled_at < size // 4, stalled_at
    assert status == 201 and reply["status"] == "created"
    [(path,)] = sql('SELECT "originalPath" FROM asset')
    assert size_of(path) == size


async def test_nul_in_the_file_name_answers_400(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    resp = await post(client, user, multipart(asset_parts(b"\xff\xd8\xff\xe0jpeg", "a\u0000b.jpg")))
    assert resp.status_code == 400
    assert (await resp.get_json())["message"] == "Validation failed"
    assert media_files(runtime) == [] and staging(runtime) == []
