"""Tag "Server": public info endpoints, config-derived features, about/storage/statistics."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from immich_trio.http.server import human_size
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
RELEASES = "https://github.com/immich-app/immich/releases"

DEFAULT_FEATURES = {
    "smartSearch": True,
    "facialRecognition": True,
    "duplicateDetection": True,
    "map": True,
    "reverseGeocoding": True,
    "importFaces": False,
    "sidecar": True,
    "search": True,
    "trash": True,
    "oauth": False,
    "oauthAutoLaunch": False,
    "ocr": True,
    "passwordLogin": True,
    "configFile": False,
    "email": False,
    "realtimeTranscoding": False,
}


def default_server_config(*, initialized: bool, onboarded: bool) -> dict[str, Any]:
    return {
        "loginPageMessage": "",
        "trashDays": 30,
        "userDeleteDelay": 7,
        "oauthButtonText": "Login with OAuth",
        "isInitialized": initialized,
        "isOnboarded": onboarded,
        "externalDomain": "",
        "publicUsers": True,
        "mapDarkStyleUrl": "https://tiles.immich.cloud/v1/style/dark.json",
        "mapLightStyleUrl": "https://tiles.immich.cloud/v1/style/light.json",
        "maintenanceMode": False,
        "minFaces": 3,
    }


def store_config(sql: Sql, partial: dict[str, Any]) -> None:
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (Jsonb(partial),),
    )


async def api_key(client: Any, user: UserCreds, permissions: list[str]) -> dict[str, str]:
    response = await client.post(
        "/api/api-keys", headers=user.headers, json={"permissions": permissions}
    )
    assert response.status_code == 201, await response.get_json()
    return {"x-api-key": (await response.get_json())["secret"]}


async def test_ping_and_version_are_public(client: Any) -> None:
    ping = await client.get("/api/server/ping")
    assert (ping.status_code, await ping.get_json()) == (200, {"res": "pong"})
    version = await client.get("/api/server/version")
    assert version.status_code == 200
    assert await version.get_data(as_text=True) == json.dumps(
        {"major": 3, "minor": 1, "patch": 0, "prerelease": None}, separators=(",", ":")
    )


async def test_version_history(client: Any, sql: Sql) -> None:
    empty = await client.get("/api/server/version-history")
    assert (empty.status_code, await empty.get_json()) == (200, [])
    sql(
        'INSERT INTO version_history (version, "createdAt") VALUES'
        " ('v3.0.0', '2025-01-01T00:00:00Z'), ('v3.1.0', '2025-02-03T04:05:06.789Z')"
    )
    body = await (await client.get("/api/server/version-history")).get_json()
    assert [list(row) for row in body] == [["id", "createdAt", "version"]] * 2
    assert [(row["version"], row["createdAt"]) for row in body] == [
        ("v3.1.0", "2025-02-03T04:05:06.789Z"),
        ("v3.0.0", "2025-01-01T00:00:00.000Z"),
    ]
    assert all(uuid.UUID(row["id"]) for row in body)


async def test_media_types_match_reference(client: Any) -> None:
    reference = json.loads((REFERENCE / "media-types.json").read_text())
    expected = reference["GET /api/server/media-types"]
    response = await client.get("/api/server/media-types")
    assert response.status_code == 200
    body = await response.get_json()
    assert body == {"video": expected["video"], "image": expected["image"], "sidecar": [".xmp"]}
    assert list(body) == ["video", "image", "sidecar"]


async def test_features_defaults(client: Any) -> None:
    response = await client.get("/api/server/features")
    assert response.status_code == 200
    body = await response.get_json()
    assert body == DEFAULT_FEATURES
    assert list(body) == list(DEFAULT_FEATURES)


@pytest.mark.parametrize(
    ("partial", "changes"),
    [
        (
            {"machineLearning": {"enabled": False}},
            {"smartSearch": False, "facialRecognition": False, "duplicateDetection": False, "ocr": False},
        ),
        ({"machineLearning": {"clip": {"enabled": False}}}, {"smartSearch": False, "duplicateDetection": False}),
        ({"machineLearning": {"duplicateDetection": {"enabled": False}}}, {"duplicateDetection": False}),
        ({"machineLearning": {"facialRecognition": {"enabled": False}}}, {"facialRecognition": False}),
        ({"machineLearning": {"ocr": {"enabled": False}}}, {"ocr": False}),
        ({"map": {"enabled": False}, "reverseGeocoding": {"enabled": False}}, {"map": False, "reverseGeocoding": False}),
        ({"metadata": {"faces": {"import": True}}}, {"importFaces": True}),
        ({"trash": {"enabled": False}}, {"trash": False}),
        ({"oauth": {"enabled": True, "autoLaunch": True}}, {"oauth": True, "oauthAutoLaunch": True}),
        ({"passwordLogin": {"enabled": False}}, {"passwordLogin": False}),
        ({"notifications": {"smtp": {"enabled": True}}}, {"email": True}),
        ({"ffmpeg": {"realtime": {"enabled": True}}}, {"realtimeTranscoding": True}),
    ],
)  # fmt: skip
async def test_features_follow_config(
    client: Any, sql: Sql, partial: dict[str, Any], changes: dict[str, bool]
) -> None:
    store_config(sql, partial)
    body = await (await client.get("/api/server/features")).get_json()
    assert body == {**DEFAULT_FEATURES, **changes}


async def test_features_follow_config_saved_through_the_api(
    client: Any, make_user: MakeUser
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    config = await (await client.get("/api/system-config", headers=admin.headers)).get_json()
    config["machineLearning"]["enabled"] = False
    saved = await client.put("/api/system-config", headers=admin.headers, json=config)
    assert saved.status_code == 200
    body = await (await client.get("/api/server/features")).get_json()
    assert (body["smartSearch"], body["facialRecognition"], body["ocr"]) == (False, False, False)


async def test_server_config_defaults_and_initialisation(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    response = await client.get("/api/server/config")
    assert response.status_code == 200
    body = await response.get_json()
    assert body == default_server_config(initialized=False, onboarded=False)
    assert list(body) == list(default_server_config(initialized=False, onboarded=False))

    await make_user("user@example.com")  # a non-admin does not initialise the server
    assert (await (await client.get("/api/server/config")).get_json())["isInitialized"] is False

    admin = await make_user("admin@example.com", is_admin=True)
    body = await (await client.get("/api/server/config")).get_json()
    assert body == default_server_config(initialized=True, onboarded=False)

    onboard = await client.post(
        "/api/system-metadata/admin-onboarding", headers=admin.headers, json={"isOnboarded": True}
    )
    assert onboard.status_code == 204
    body = await (await client.get("/api/server/config")).get_json()
    assert body == default_server_config(initialized=True, onboarded=True)


async def test_server_config_follows_system_config(client: Any, sql: Sql) -> None:
    store_config(
        sql,
        {
            "server": {"loginPageMessage": "Hi", "externalDomain": "https://photos.example.com/x", "publicUsers": False},
            "trash": {"days": 5},
            "user": {"deleteDelay": 2},
            "oauth": {"buttonText": "SSO"},
            "map": {"darkStyle": "https://d.example/s.json", "lightStyle": "https://l.example/s.json"},
            "machineLearning": {"facialRecognition": {"minFaces": 9}},
        },
    )  # fmt: skip
    body = await (await client.get("/api/server/config")).get_json()
    assert body == {
        **default_server_config(initialized=False, onboarded=False),
        "loginPageMessage": "Hi",
        "trashDays": 5,
        "userDeleteDelay": 2,
        "oauthButtonText": "SSO",
        "externalDomain": "https://photos.example.com",  # normalised to the origin
        "publicUsers": False,
        "mapDarkStyleUrl": "https://d.example/s.json",
        "mapLightStyleUrl": "https://l.example/s.json",
        "minFaces": 9,
    }


async def test_about(client: Any, make_user: MakeUser, sql: Sql) -> None:
    assert (await client.get("/api/server/about")).status_code == 401
    user = await make_user("user@example.com")
    response = await client.get("/api/server/about", headers=user.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body)[:3] == ["version", "versionUrl", "licensed"]
    assert body["version"] == "v3.1.0"
    assert body["versionUrl"] == f"{RELEASES}/tag/v3.1.0"
    assert body["licensed"] is False
    if shutil.which("exiftool"):
        assert re.fullmatch(r"\d+\.\d+", body["exiftool"])
    for library in ("ffmpeg", "libvips"):
        assert isinstance(body.get(library, ""), str)
    assert all(isinstance(v, str) for k, v in body.items() if k != "licensed")

    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('license', %s)",
        (Jsonb({"licenseKey": "IMSV-X", "activationKey": "y", "activatedAt": "2025-01-01T00:00:00.000Z"}),),
    )  # fmt: skip
    licensed = await (await client.get("/api/server/about", headers=user.headers)).get_json()
    assert licensed["licensed"] is True


async def test_about_build_metadata_from_environment(
    client: Any, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMMICH_BUILD", "42")
    monkeypatch.setenv("IMMICH_SOURCE_COMMIT", "abc123")
    user = await make_user("user@example.com")
    body = await (await client.get("/api/server/about", headers=user.headers)).get_json()
    assert (body["build"], body["sourceCommit"]) == ("42", "abc123")
    assert "buildUrl" not in body


async def test_api_key_permissions(client: Any, make_user: MakeUser) -> None:
    user = await make_user("user@example.com")
    key = await api_key(client, user, ["asset.read"])
    refused = await client.get("/api/server/about", headers=key)
    assert (refused.status_code, await refused.get_json()) == (
        403,
        {"message": "Missing required permission: server.about"},
    )
    refused = await client.get("/api/server/storage", headers=key)
    assert await refused.get_json() == {"message": "Missing required permission: server.storage"}

    allowed = await api_key(client, user, ["server.about"])
    assert (await client.get("/api/server/about", headers=allowed)).status_code == 200
    everything = await api_key(client, user, ["all"])
    assert (await client.get("/api/server/storage", headers=everything)).status_code == 200
    # public routes ignore the key's permissions
    assert (await client.get("/api/server/ping", headers=key)).status_code == 200


def test_human_size() -> None:
    assert human_size(0) == "0.0 B"
    assert human_size(1023) == "1023.0 B"
    assert human_size(1024) == "1.0 KiB"
    assert human_size(1280) == "1.3 KiB"  # half up, like toFixed (not half-even)
    assert human_size(1536 * 1024) == "1.5 MiB"
    assert human_size(13_207_024_435) == "12.3 GiB"
    assert human_size(5 * 1024**4) == "5.0 TiB"
    assert human_size(3 * 1024**7) == "3072.0 EiB"


async def test_storage(client: Any, make_user: MakeUser, runtime: Runtime) -> None:
    assert (await client.get("/api/server/storage")).status_code == 401
    user = await make_user("user@example.com")
    response = await client.get("/api/server/storage", headers=user.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body) == [
        "diskAvailable",
        "diskSize",
        "diskUse",
        "diskAvailableRaw",
        "diskSizeRaw",
        "diskUseRaw",
        "diskUsagePercentage",
    ]
    usage = shutil.disk_usage(runtime.settings.media_location)
    assert body["diskSizeRaw"] == usage.total
    assert body["diskSize"] == human_size(usage.total)
    for key in ("diskAvailable", "diskSize", "diskUse"):
        assert re.fullmatch(r"\d+\.\d (B|KiB|MiB|GiB|TiB|PiB|EiB)", body[key])
    assert body["diskUseRaw"] + body["diskAvailableRaw"] <= body["diskSizeRaw"]
    expected = round(body["diskUseRaw"] / body["diskSizeRaw"] * 100, 2)
    assert body["diskUsagePercentage"] == pytest.approx(expected, abs=0.02)


async def test_statistics(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True, name="Admin")
    user = await make_user("user@example.com", name="User")
    sql('UPDATE "user" SET "quotaSizeInBytes" = 1000 WHERE id = %s', (user.id,))
    library = sql(
        'INSERT INTO library (name, "ownerId", "importPaths", "exclusionPatterns")'
        " VALUES ('lib', %s, '{}', '{}') RETURNING id",
        (admin.id,),
    )[0][0]

    def asset(
        owner: str,
        kind: str,
        size: int,
        *,
        visibility: str = "timeline",
        deleted: bool = False,
        library_id: Any = None,
    ) -> None:
        asset_id = sql(
            'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
            ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", visibility,'
            ' "deletedAt", "libraryId")'
            " VALUES (%s, %s, %s, now(), now(), now(), %s, 'sha1', 'f', %s, %s, %s) RETURNING id",
            (
                owner, kind, f"/x/{uuid.uuid4()}", uuid.uuid4().bytes, visibility,
                "2024-01-01" if deleted else None, library_id,
            ),
        )[0][0]  # fmt: skip
        sql(
            'INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)', (asset_id, size)
        )

    asset(user.id, "IMAGE", 100)
    asset(user.id, "IMAGE", 200)
    asset(user.id, "VIDEO", 1000)
    asset(user.id, "VIDEO", 50, visibility="hidden")  # a live photo's motion part
    asset(user.id, "IMAGE", 7000, deleted=True)
    asset(admin.id, "IMAGE", 10, visibility="archive")
    asset(admin.id, "IMAGE", 99999, library_id=library)  # external: counted, but no usage

    assert (await client.get("/api/server/statistics", headers=user.headers)).status_code == 403
    response = await client.get("/api/server/statistics", headers=admin.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body == {
        "photos": 4,
        "videos": 1,
        "usage": 1360,
        "usagePhotos": 310,
        "usageVideos": 1050,
        "usageByUser": [
            {
                "userId": admin.id,
                "userName": "Admin",
                "photos": 2,
                "videos": 0,
                "usage": 10,
                "usagePhotos": 10,
                "usageVideos": 0,
                "quotaSizeInBytes": None,
            },
            {
                "userId": user.id,
                "userName": "User",
                "photos": 2,
                "videos": 1,
                "usage": 1350,
                "usagePhotos": 300,
                "usageVideos": 1050,
                "quotaSizeInBytes": 1000,
            },
        ],
    }


async def test_apk_links(client: Any, make_user: MakeUser) -> None:
    assert (await client.get("/api/server/apk-links")).status_code == 401
    user = await make_user("user@example.com")
    response = await client.get("/api/server/apk-links", headers=user.headers)
    assert response.status_code == 200
    base = f"{RELEASES}/download/v3.1.0"
    body = await response.get_json()
    assert body == {
        "arm64v8a": f"{base}/app-arm64-v8a-release.apk",
        "armeabiv7a": f"{base}/app-armeabi-v7a-release.apk",
        "universal": f"{base}/app-release.apk",
        "x86_64": f"{base}/app-x86_64-release.apk",
    }
    assert list(body) == ["arm64v8a", "armeabiv7a", "universal", "x86_64"]


async def test_version_check(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("user@example.com")
    response = await client.get("/api/server/version-check", headers=user.headers)
    assert (response.status_code, await response.get_json()) == (
        200,
        {"checkedAt": None, "releaseVersion": None},
    )
    state = {"checkedAt": "2025-03-01T00:00:00.000Z", "releaseVersion": "v3.2.0"}
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('version-check-state', %s)",
        (Jsonb(state),),
    )
    body = await (await client.get("/api/server/version-check", headers=user.headers)).get_json()
    assert body == state
