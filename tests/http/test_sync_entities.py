"""Sync lines of the entity families test_sync.py leaves out (people, faces, OCR, edits, asset
metadata), the album-exif backfill, resuming partway through a backfill, and a deprecated type
requested after others."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio

from immich_trio.runtime import Runtime
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser
from tests.sync_client import MOBILE_TYPES, SyncClient

Sql = Callable[..., list[tuple[Any, ...]]]

async def _families(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, types: list[str]) -> None:
    alex = await make_user("alex@example.com")
    asset = _asset(sql, alex.id, runtime.settings.media_location, "a.jpg", "IMAGE")
    [(person,)] = sql(
        """INSERT INTO person ("ownerId", name, "birthDate", color) VALUES (%s, 'Ann', '1990-05-04', '#ff0000')
        RETURNING id::text""",
        (alex.id,),
    )
    [(face,)] = sql(
        """INSERT INTO asset_face ("assetId", "personId", "imageWidth", "imageHeight", "boundingBoxX1",
        "boundingBoxY1", "boundingBoxX2", "boundingBoxY2") VALUES (%s, %s, 800, 600, 10, 20, 110, 120)
        RETURNING id::text""",
        (asset, person),
    )
    [(ocr,)] = sql(
        """INSERT INTO asset_ocr ("assetId", x1, y1, x2, y2, x3, y3, x4, y4, "boxScore", "textScore", text)
        VALUES (%s, 0.1, 0.1, 0.5, 0.1, 0.5, 0.2, 0.1, 0.2, 0.9, 0.8, 'EXIT') RETURNING id::text""",
        (asset,),
    )
    [(edit,)] = sql(
        """INSERT INTO asset_edit ("assetId", action, parameters, sequence)
        VALUES (%s, 'rotate', '{"angle": 90}', 0) RETURNING id::text""",
        (asset,),
    )
    phone = SyncClient(client, alex.headers)
    with trio.fail_after(30):
        lines = await phone.sync(types)
    by_type = {x["type"]: x["data"] for x in lines}
    assert by_type["PersonV1"] == {
        "id": person, "createdAt": by_type["PersonV1"]["createdAt"],
        "updatedAt": by_type["PersonV1"]["updatedAt"], "ownerId": alex.id, "name": "Ann",
        "birthDate": "1990-05-04T00:00:00.000Z", "isHidden": False, "isFavorite": False,
        "color": "#ff0000", "faceAssetId": None,
    }  # fmt: skip
    face_line = by_type["AssetFaceV2"]
    assert face_line["id"] == face and face_line["personId"] == person
    assert (face_line["boundingBoxX1"], face_line["imageWidth"], face_line["deletedAt"]) == (10, 800, None)
    assert by_type["AssetOcrV1"]["id"] == ocr and by_type["AssetOcrV1"]["text"] == "EXIT"
    assert by_type["AssetEditV1"] == {
        "id": edit, "assetId": asset, "sequence": 0, "action": "rotate", "parameters": {"angle": 90},
    }  # fmt: skip
    assert phone.table("asset_metadata")[(asset, "mobile-app")]["value"] == {"iCloudId": "x"}
    assert set(phone.table("people")) == {person} and set(phone.table("ocr")) == {ocr}

    # deletes reach the client through the audit tables
    sql("DELETE FROM asset_face WHERE id = %s", (face,))
    sql("DELETE FROM person WHERE id = %s", (person,))
    sql('DELETE FROM asset_ocr WHERE "assetId" = %s', (asset,))
    sql("DELETE FROM asset_edit WHERE id = %s", (edit,))
    sql('DELETE FROM asset_metadata WHERE "assetId" = %s', (asset,))
    lines = await phone.sync(types)
    # removing the last edit clears asset.isEdited (Immich's trigger), so the asset comes again
    [asset_line] = [x["data"] for x in lines if x["type"] == "AssetV2"]
    assert (asset_line["id"], asset_line["isEdited"]) == (asset, False)
    assert {x["type"] for x in lines} == {
        "AssetV2", "PersonDeleteV1", "AssetFaceDeleteV1", "AssetOcrDeleteV1", "AssetEditDeleteV1",
        "AssetMetadataDeleteV1", "SyncCompleteV1",
    }  # fmt: skip
    for table in ("people", "faces", "ocr", "edits", "asset_metadata"):
        assert phone.table(table) == {}, table
    assert [x["type"] for x in await phone.sync(types)] == ["SyncCompleteV1"]

FAMILIES = ["AssetsV2", "AssetEditsV1", "AssetMetadataV1", "PeopleV1", "AssetFacesV2", "AssetOcrV1"]

async def test_people_faces_ocr_edits_and_metadata(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    await _families(client, runtime, make_user, sql, FAMILIES)

async def test_people_faces_ocr_edits_and_metadata_all_mobile_types(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    await _families(client, runtime, make_user, sql, MOBILE_TYPES)

async def _shared_album(client: Any, owner: Any, member: Any, assets: list[str]) -> str:
    response = await client.post(
        "/api/albums", headers=owner.headers, json={"albumName": "trip", "assetIds": assets}
    )
    album = str((await response.get_json())["id"])
    return album

async def _share(client: Any, owner: Any, album: str, member: Any) -> None:
    response = await client.put(
        f"/api/albums/{album}/users",
        headers=owner.headers,
        json={"albumUsers": [{"userId": member.id, "role": "viewer"}]},
    )
    assert response.status_code == 200

async def test_album_exif_backfill_and_resume_partway(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    bea = await make_user("bea@example.com")
    media = runtime.settings.media_location
    hers = [_asset(sql, bea.id, media, f"b{i}.jpg", "IMAGE") for i in range(6)]
    album = await _shared_album(client, bea, alex, hers)  # links older than alex's checkpoints
    mine = _asset(sql, alex.id, media, "a.jpg", "IMAGE")
    response = await client.post(
        "/api/albums", headers=alex.headers, json={"albumName": "own", "assetIds": [mine]}
    )
    assert response.status_code == 201
    phone = SyncClient(client, alex.headers, ack_batch=1000)
    await phone.sync()
    assert set(phone.table("exifs")) == {mine}

    await _share(client, bea, album, alex)
    # a first stream, read partway: the client stores and acks three exif backfill lines only
    lines = await phone.stream()
    exif_fill = [x for x in lines if x["type"] == "AlbumAssetExifBackfillV1"]
    assert {x["data"]["assetId"] for x in exif_fill} == set(hers)
    assert [x["ack"].split("|")[1] for x in exif_fill] == [exif_fill[0]["ack"].split("|")[1]] * 6
    kept = lines[: lines.index(exif_fill[2]) + 1]
    for item in kept:
        phone.apply(item)
    # as the app does: the ack of the last line of each run of consecutive lines of one type, in
    # order (the server keeps the last ack per entity type, so a backfill's "complete" wins)
    ends = [x for x, after in zip(kept, [*kept[1:], None], strict=True) if after is None or after["type"] != x["type"]]
    acks = [x["ack"] for x in ends]
    await phone.ack(acks)
    phone.acked.update(acks)

    # the next stream resumes after the acked line, and ends with the parent marked complete
    lines = await phone.sync()
    again = [x for x in lines if x["type"] == "AlbumAssetExifBackfillV1"]
    assert [x["data"]["assetId"] for x in again] == [x["data"]["assetId"] for x in exif_fill[3:]]
    assert any(
        x["type"] == "SyncAckV1" and x["ack"].startswith("AlbumAssetExifBackfillV1|")
        and x["ack"].endswith("|complete") for x in lines
    )  # fmt: skip
    assert set(phone.table("exifs")) == {mine, *hers}
    assert {p for p in phone.table("album_assets") if p[0] == album} == {(album, h) for h in hers}
    assert [x["type"] for x in await phone.sync()] == ["SyncCompleteV1"]

async def test_deprecated_type_after_other_lines(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    _asset(sql, alex.id, runtime.settings.media_location, "a.jpg", "IMAGE")
    response = await client.post(
        "/api/sync/stream",
        headers=alex.headers,
        json={"types": ["AuthUsersV1", "AssetsV2", "PartnerAssetsV1", "AlbumsV2"]},
    )
    # lines already written: the stream just stops, no error body and no SyncCompleteV1
    assert response.status_code == 200
    types = [json.loads(x)["type"] for x in (await response.get_data()).decode().splitlines()]
    assert types == ["AuthUserV1", "AssetV2"]


async def test_deprecated_type_after_types_without_lines(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    alex = await make_user("alex@example.com")
    response = await client.post(
        "/api/sync/stream",
        headers=alex.headers,
        json={"types": ["AssetsV2", "StacksV1", "MemoriesV1", "AssetFacesV1", "UserMetadataV1"]},
    )
    # nothing written before the deprecated type: Immich's 400, not an empty 200
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "SyncRequestType.AssetFacesV1 is deprecated, use SyncRequestType.AssetFacesV2 instead"
