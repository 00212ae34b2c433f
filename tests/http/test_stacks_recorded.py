"""``GET /api/stacks/{id}`` answers as Immich v3.1 did for the recorded install's stack of two:
the same body, byte for byte (rows rebuilt from Immich's own answer)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from immich_trio import crypto

Sql = Callable[..., list[tuple[Any, ...]]]

# Immich's own answer (a real v3.1 install): GET /api/stacks/6a5bd6d3-… as Alex.
RECORDED_STACK: dict[str, Any] = {'id': '6a5bd6d3-43e2-4832-9098-69e9f85ff8b0',
 'primaryAssetId': '4f38a185-1264-4e90-a9a2-e249f2cde783',
 'assets': [{'id': '4f38a185-1264-4e90-a9a2-e249f2cde783',
             'createdAt': '2026-12-06T20:51:21.422236+00:00',
             'ownerId': '4e3d44d1-50bb-4751-8b98-12e2a211ef7f',
             'libraryId': None,
             'type': 'IMAGE',
             'originalPath': '/data/upload/4e3d44d1-50bb-4751-8b98-12e2a211ef7f/43/3e/433e104c-1c90-4009-994e-b0c2b40433b8.jpg',
             'originalFileName': 'wood_anemones.jpg',
             'originalMimeType': 'image/jpeg',
             'thumbhash': '1fgFDIBQx0x9pbaBZnZAh6Or/Q==',
             'fileCreatedAt': '2024-06-01T12:00:00+00:00',
             'fileModifiedAt': '2024-06-01T12:00:00+00:00',
             'localDateTime': '2024-06-01T12:00:00+00:00',
             'updatedAt': '2026-12-06T20:51:27.341233+00:00',
             'isFavorite': False,
             'isArchived': False,
             'isTrashed': False,
             'visibility': 'timeline',
             'duration': None,
             'exifInfo': {'make': None,
                          'model': None,
                          'exifImageWidth': 512,
                          'exifImageHeight': 307,
                          'fileSizeInByte': 93959,
                          'orientation': None,
                          'dateTimeOriginal': '2024-06-01T12:00:00+00:00',
                          'modifyDate': '2024-06-01T12:00:00+00:00',
                          'timeZone': None,
                          'lensModel': None,
                          'fNumber': None,
                          'focalLength': None,
                          'iso': None,
                          'exposureTime': None,
                          'latitude': None,
                          'longitude': None,
                          'city': None,
                          'state': None,
                          'country': None,
                          'description': '',
                          'projectionType': None,
                          'rating': None},
             'livePhotoVideoId': None,
             'tags': [],
             'people': [],
             'checksum': 'VzMbaKWiqqyFjahthCv7swK3Njw=',
             'isOffline': False,
             'hasMetadata': True,
             'duplicateId': None,
             'resized': True,
             'width': 512,
             'height': 307,
             'isEdited': False},
            {'id': '175209d8-1df1-45fc-b165-7c91cb735fc8',
             'createdAt': '2026-12-06T20:51:21.461224+00:00',
             'ownerId': '4e3d44d1-50bb-4751-8b98-12e2a211ef7f',
             'libraryId': None,
             'type': 'IMAGE',
             'originalPath': '/data/upload/4e3d44d1-50bb-4751-8b98-12e2a211ef7f/44/c7/44c74de5-367f-4433-b0ba-374904e8166d.jpg',
             'originalFileName': 'cyclamen_persicum.jpg',
             'originalMimeType': 'image/jpeg',
             'thumbhash': 'FkgODAY59ohHtouYmJnglGnxRw==',
             'fileCreatedAt': '2007-12-06T05:33:18+00:00',
             'fileModifiedAt': '2024-06-01T12:00:00+00:00',
             'localDateTime': '2007-12-06T14:33:18+00:00',
             'updatedAt': '2026-12-06T20:51:27.341444+00:00',
             'isFavorite': False,
             'isArchived': False,
             'isTrashed': False,
             'visibility': 'timeline',
             'duration': None,
             'exifInfo': {'make': 'FUJIFILM',
                          'model': 'FinePix S3Pro',
                          'exifImageWidth': 512,
                          'exifImageHeight': 848,
                          'fileSizeInByte': 51977,
                          'orientation': '1',
                          'dateTimeOriginal': '2007-12-06T05:33:18+00:00',
                          'modifyDate': '2024-06-01T12:00:00+00:00',
                          'timeZone': 'UTC+9',
                          'lensModel': None,
                          'fNumber': 6.7,
                          'focalLength': 90,
                          'iso': 100,
                          'exposureTime': '1/30',
                          'latitude': None,
                          'longitude': None,
                          'city': None,
                          'state': None,
                          'country': None,
                          'description': '',
                          'projectionType': None,
                          'rating': None},
             'livePhotoVideoId': None,
             'tags': [],
             'people': [],
             'checksum': '9IXBDMjj9OrQb+1YMHprZJgZ/UQ=',
             'isOffline': False,
             'hasMetadata': True,
             'duplicateId': None,
             'resized': True,
             'width': 512,
             'height': 848,
             'isEdited': False}]}

ALEX = "4e3d44d1-50bb-4751-8b98-12e2a211ef7f"
ASSET_COLUMNS = ("id", "createdAt", "ownerId", "libraryId", "type", "originalPath", "originalFileName",
                 "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt", "isFavorite", "visibility",
                 "duration", "livePhotoVideoId", "isOffline", "duplicateId", "width", "height", "isEdited")
EXIF_COLUMNS = ("make", "model", "exifImageWidth", "exifImageHeight", "fileSizeInByte", "orientation",
                "dateTimeOriginal", "modifyDate", "timeZone", "lensModel", "fNumber", "focalLength", "iso",
                "exposureTime", "latitude", "longitude", "city", "state", "country", "description",
                "projectionType", "rating")


def _insert_recorded(sql: Sql) -> str:
    """Alex, a session, and the stack with its two assets and their exif; returns Alex's token."""
    sql('INSERT INTO "user" (id, email, password, name) VALUES (%s, %s, %s, %s)',
        (ALEX, "admin@family.test", "", "Alex Admin"))
    token = crypto.new_token()
    sql('INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
        (crypto.hash_token(token), ALEX, "pytest", "Linux"))
    stack = RECORDED_STACK
    columns = ", ".join(f'"{c}"' for c in ASSET_COLUMNS)
    slots = ", ".join(["%s"] * (len(ASSET_COLUMNS) + 3))
    for asset in stack["assets"]:
        values = [asset[c] for c in ASSET_COLUMNS] + [
            base64.b64decode(asset["thumbhash"]), base64.b64decode(asset["checksum"]), stack["id"]]
        insert = (f'INSERT INTO asset ({columns}, thumbhash, checksum, "stackId", "checksumAlgorithm")'
                  f" VALUES ({slots}, 'sha1')")
        if asset["id"] == stack["primaryAssetId"]:
            # the stack and its primary asset in one statement (each names the other)
            sql(f'WITH s AS (INSERT INTO stack (id, "ownerId", "primaryAssetId") VALUES (%s, %s, %s)) {insert}',
                (stack["id"], ALEX, asset["id"], *values))
        else:
            sql(insert, tuple(values))
        exif = asset["exifInfo"]
        sql(f'INSERT INTO asset_exif ("assetId", {", ".join(f"{chr(34)}{c}{chr(34)}" for c in EXIF_COLUMNS)})'
            f" VALUES (%s, {', '.join(['%s'] * len(EXIF_COLUMNS))})",
            (asset["id"], *(exif[c] for c in EXIF_COLUMNS)))
    return token


async def test_recorded_stack_answers_as_immich(client: Any, sql: Sql) -> None:
    token = _insert_recorded(sql)
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.get(f"/api/stacks/{RECORDED_STACK['id']}", headers=headers)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == json.dumps(RECORDED_STACK, separators=(",", ":"))
    # the asset shows its stack as Immich showed it
    response = await client.get(f"/api/assets/{RECORDED_STACK['primaryAssetId']}", headers=headers)
    assert (await response.get_json())["stack"] == {
        "id": RECORDED_STACK["id"], "primaryAssetId": RECORDED_STACK["primaryAssetId"], "assetCount": 2}
