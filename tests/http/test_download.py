"""The Download tag: archive splitting as Immich does it, and the streamed ZIP of originals."""

from __future__ import annotations

import base64
import io
import os
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from immich_trio.runtime import Runtime
from immich_trio.storage.zip_archive import sanitize_file_name, unique_names

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]


def add_asset(sql: Sql, owner: str, path: Path, name: str, data: bytes, *, kind: str = "IMAGE",
              size: int | None = None, motion: str | None = None, visibility: str = "timeline") -> str:
    """An asset whose original holds ``data``; ``size`` is what its exif row claims."""
    asset_id = str(uuid.uuid4())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum, "checksumAlgorithm",'
        ' "fileCreatedAt", "fileModifiedAt", "localDateTime", "livePhotoVideoId", visibility)'
        " VALUES (%s, %s, %s, %s, %s, %s, 'sha1', now(), now(), now(), %s, %s)",
        (asset_id, owner, kind, str(path), name, uuid.uuid4().bytes[:20], motion, visibility),
    )
    sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)',
        (asset_id, len(data) if size is None else size))
    return asset_id


async def _info(client: Any, headers: Any, body: dict[str, Any]) -> Any:
    r = await client.post("/api/download/info", json=body, headers=headers)
    return r.status_code, await r.get_json()


def test_names_as_immich_makes_them() -> None:
    assert unique_names(["a.jpg", "a.jpg", "b.jpg", "a.jpg", "x/y?.png", "", "..", ".hidden", ".hidden"]) == [
        "a.jpg", "a+1.jpg", "b.jpg", "a+2.jpg", "xy.png", "unnamed", "unnamed+1", ".hidden", ".hidden+1"]
    assert sanitize_file_name("con.txt") == "" and sanitize_file_name("end. ") == "end"
    assert len(sanitize_file_name("é" * 200).encode()) == 254


async def test_info_splits_by_size(client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime) -> None:
    owner = await make_user("owner@example.com")
    media = runtime.settings.media_location
    ids = [add_asset(sql, owner.id, media / "upload" / f"{i}.jpg", f"{i}.jpg", b"x", size=s)
           for i, s in enumerate((40, 70, 10, 100, 5))]
    status, body = await _info(client, owner.headers, {"assetIds": ids, "archiveSize": 100})
    assert status == 201
    # an archive closes once its size passes the target
    assert body == {"totalSize": 225, "archives": [
        {"size": 110, "assetIds": ids[:2]}, {"size": 110, "assetIds": ids[2:4]}, {"size": 5, "assetIds": ids[4:]}]}
    status, body = await _info(client, owner.headers, {"userId": owner.id})
    assert body == {"totalSize": 225, "archives": [{"size": 225, "assetIds": ids}]}
    status, body = await _info(client, owner.headers, {})
    assert (status, body["message"]) == (400, "assetIds, albumId, or userId is required")


async def test_info_live_photo_parts(client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime) -> None:
    owner = await make_user("owner@example.com")
    media = runtime.settings.media_location
    apple = add_asset(sql, owner.id, media / "upload" / "live.mov", "live.mov", b"v" * 30, kind="VIDEO",
                      visibility="hidden")
    android = add_asset(sql, owner.id, media / "encoded-video" / "m.mp4", "m.mp4", b"v" * 20, kind="VIDEO",
                        visibility="hidden")
    still1 = add_asset(sql, owner.id, media / "upload" / "live.heic", "live.heic", b"s" * 10, motion=apple)
    still2 = add_asset(sql, owner.id, media / "upload" / "m.jpg", "m.jpg", b"s" * 5, motion=android)
    [(album,)] = sql("INSERT INTO album (\"albumName\") VALUES ('A') RETURNING id")
    sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album, owner.id, "owner"))
    for a in (still1, still2):
        sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, a))
    # motion parts come after the stills; an embedded (extracted) video only when preferred
    for body in ({"albumId": str(album)}, {"userId": owner.id}, {"assetIds": [still1, still2]}):
        status, got = await _info(client, owner.headers, body)
        assert status == 201
        assert got == {"totalSize": 45, "archives": [{"size": 45, "assetIds": [still1, still2, apple]}]}
    r = await client.put("/api/users/me/preferences", json={"download": {"includeEmbeddedVideos": True}},
                         headers=owner.headers)
    assert r.status_code == 200
    _, got = await _info(client, owner.headers, {"albumId": str(album)})
    assert got == {"totalSize": 65, "archives": [{"size": 65, "assetIds": [still1, still2, apple, android]}]}


async def test_archive_holds_the_originals(client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime) -> None:
    owner = await make_user("owner@example.com")
    media = runtime.settings.media_location
    blobs = [os.urandom(n) for n in (1, 300_000, 2_500_000, 0)]
    names = ["a.jpg", "a.jpg", "b:c.png", "a.jpg"]
    ids = [add_asset(sql, owner.id, media / "upload" / f"f{i}", n, b) for i, (n, b) in enumerate(zip(names, blobs, strict=True))]
    r = await client.post("/api/download/archive", json={"assetIds": ids}, headers=owner.headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/octet-stream"
    data = await r.get_data()
    assert int(r.headers["Content-Length"]) == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == ["a.jpg", "a+1.jpg", "bc.png", "a+2.jpg"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        assert [z.read(n) for n in z.namelist()] == blobs


async def test_archive_refusals(client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime) -> None:
    owner = await make_user("owner@example.com")
    other = await make_user("other@example.com")
    photo = add_asset(sql, owner.id, runtime.settings.media_location / "upload" / "p.jpg", "p.jpg", b"p")
    refusal = {"message": "Not found or no asset.download access"}
    for who, ids in ((other, [photo]), (owner, [photo, str(uuid.uuid4())])):
        r = await client.post("/api/download/archive", json={"assetIds": ids}, headers=who.headers)
        assert (r.status_code, await r.get_json()) == (400, refusal)
        status, body = await _info(client, who.headers, {"assetIds": ids})
        assert (status, body) == (400, refusal)
    r = await client.post("/api/download/archive", json={"assetIds": ["nope"]}, headers=owner.headers)
    assert r.status_code == 400
    for allow, expected in ((False, 400), (True, 200)):
        key = os.urandom(50)
        [(link,)] = sql('INSERT INTO shared_link ("userId", key, type, "allowDownload") VALUES (%s, %s,'
                        " 'INDIVIDUAL', %s) RETURNING id", (owner.id, key, allow))
        sql('INSERT INTO shared_link_asset ("sharedLinkId", "assetId") VALUES (%s, %s)', (link, photo))
        share = base64.urlsafe_b64encode(key).decode().rstrip("=")
        r = await client.post(f"/api/download/archive?key={share}", json={"assetIds": [photo]})
        assert r.status_code == expected
        r = await client.post(f"/api/download/info?key={share}", json={"assetIds": [photo]})
        assert r.status_code == (201 if allow else 400)
