"""GET /api/assets/{id}: the full AssetResponseDto for the owner (behaviour.md §6), 400 for others."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from immich_trio.actors.uploader import Uploader
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]
BOUNDARY = "asset-info-boundary"
KEY_ORDER = [
    "id", "createdAt", "ownerId", "owner", "libraryId", "type", "originalPath", "originalFileName",
    "originalMimeType", "thumbhash", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt",
    "isFavorite", "isArchived", "isTrashed", "visibility", "duration", "exifInfo", "livePhotoVideoId",
    "tags", "people", "checksum", "stack", "isOffline", "hasMetadata", "duplicateId", "resized", "width",
    "height", "isEdited",
]
Z_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PG_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$")


async def upload(client: Any, user: UserCreds, data: bytes, filename: str, *extra: tuple[str, str]) -> str:
    fields = [("fileCreatedAt", "2024-01-15T10:30:00.123+02:00"), ("fileModifiedAt", "2024-01-15T11:00:00Z"), *extra]
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields
    )
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="assetData"; filename="{filename}"\r\n\r\n'.encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    headers = {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    resp = await client.post("/api/assets", headers=headers, data=body)
    assert resp.status_code == 201, await resp.get_data()
    return str((await resp.get_json())["id"])


async def test_owner_gets_the_full_dto(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user(name="Owner")
    data = b"\xff\xd8\xff fake jpeg"
    asset_id = await upload(client, user, data, "IMG_0042.jpg", ("isFavorite", "true"))
    sql(
        'UPDATE asset_exif SET make = %s, "dateTimeOriginal" = %s, "fNumber" = 1.8 WHERE "assetId" = %s',
        ("Canon", datetime(2024, 1, 15, 8, 30, 0, 123000, tzinfo=UTC), asset_id),
    )
    sql("UPDATE asset SET width = 4000, height = 3000, thumbhash = %s WHERE id = %s", (b"\x01\x02\x03", asset_id))

    resp = await client.get(f"/api/assets/{asset_id}", headers=user.headers)
    assert resp.status_code == 200
    dto = await resp.get_json()
    assert list(dto) == KEY_ORDER
    [(path,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    assert dto["id"] == asset_id and dto["ownerId"] == user.id and dto["libraryId"] is None
    assert dto["type"] == "IMAGE" and dto["originalPath"] == path and dto["originalFileName"] == "IMG_0042.jpg"
    assert dto["originalMimeType"] == "image/jpeg"
    assert dto["thumbhash"] == base64.b64encode(b"\x01\x02\x03").decode()
    assert dto["checksum"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
    # fileCreatedAt is the real instant; localDateTime the form's date as given (Immich: = fileCreatedAt).
    assert dto["fileCreatedAt"] == "2024-01-15T08:30:00.123Z"
    assert dto["localDateTime"] == "2024-01-15T08:30:00.123Z"
    assert dto["fileModifiedAt"] == "2024-01-15T11:00:00.000Z"
    assert Z_DATE.match(dto["createdAt"]) and Z_DATE.match(dto["updatedAt"])
    assert dto["isFavorite"] is True and dto["isArchived"] is False and dto["isTrashed"] is False
    assert dto["visibility"] == "timeline" and dto["duration"] is None and dto["livePhotoVideoId"] is None
    assert dto["people"] == [] and dto["tags"] == [] and dto["stack"] is None
    assert dto["isOffline"] is False and dto["hasMetadata"] is True and dto["resized"] is True
    assert dto["duplicateId"] is None and dto["width"] == 4000 and dto["height"] == 3000 and dto["isEdited"] is False
    owner = dto["owner"]
    assert list(owner) == ["id", "email", "name", "profileImagePath", "avatarColor", "profileChangedAt"]
    assert owner["id"] == user.id and owner["name"] == "Owner" and PG_DATE.match(owner["profileChangedAt"])

    exif = dto["exifInfo"]
    assert list(exif)[:8] == [
        "make", "model", "exifImageWidth", "exifImageHeight", "fileSizeInByte", "orientation",
        "dateTimeOriginal", "modifyDate",
    ]
    assert exif["fileSizeInByte"] == len(data) and exif["make"] == "Canon" and exif["fNumber"] == 1.8
    # Embedded rows keep PostgreSQL's JSON date form.
    assert exif["dateTimeOriginal"] == "2024-01-15T08:30:00.123+00:00"
    assert exif["modifyDate"] is None and exif["description"] == ""


async def test_flags_follow_the_row(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    asset_id = await upload(client, user, b"video", "clip.mp4", ("duration", "1500"), ("visibility", "archive"))
    sql('UPDATE asset SET "deletedAt" = now(), status = %s WHERE id = %s', ("trashed", asset_id))
    dto = await (await client.get(f"/api/assets/{asset_id}", headers=user.headers)).get_json()
    assert dto["type"] == "VIDEO" and dto["originalMimeType"] == "video/mp4" and dto["duration"] == 1500
    assert dto["isArchived"] is True and dto["isTrashed"] is True and dto["visibility"] == "archive"
    assert dto["isFavorite"] is False


async def test_others_get_no_access(
    client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser, sql: Sql
) -> None:
    owner = await make_user()
    other = await make_user("other@example.com")
    asset_id = await upload(client, owner, b"mine", "a.jpg")
    no_access = {"message": "Not found or no asset.read access"}

    resp = await client.get(f"/api/assets/{asset_id}", headers=other.headers)
    assert resp.status_code == 400 and await resp.get_json() == no_access
    resp = await client.get(f"/api/assets/{uuid.uuid4()}", headers=owner.headers)
    assert resp.status_code == 400 and await resp.get_json() == no_access
    resp = await client.get("/api/assets/not-a-uuid", headers=owner.headers)
    assert resp.status_code == 400 and (await resp.get_json())["message"] == "Validation failed"
    resp = await client.get(f"/api/assets/{asset_id}")
    assert resp.status_code == 401

    # Locked assets need an elevated (PIN-unlocked) session, even for the owner.
    sql("UPDATE asset SET visibility = 'locked' WHERE id = %s", (asset_id,))
    resp = await client.get(f"/api/assets/{asset_id}", headers=owner.headers)
    assert resp.status_code == 400
    sql('UPDATE session SET "pinExpiresAt" = %s WHERE "userId" = %s', (datetime.now(UTC) + timedelta(minutes=10), owner.id))
    resp = await client.get(f"/api/assets/{asset_id}", headers=owner.headers)
    assert resp.status_code == 200
