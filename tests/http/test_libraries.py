"""The Libraries tag: create, list, get, update, delete, validate, statistics and scan, as
Immich v3.1 answers them (admin only; Immich's defaults and messages)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from immich_trio.storage.import_paths import node_error_text
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"
LIBRARY_FIELDS = {
    "id", "ownerId", "name", "importPaths", "exclusionPatterns", "createdAt", "updatedAt", "refreshedAt",
    "assetCount",
}


async def _create(client: Any, admin: UserCreds, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/libraries", headers=admin.headers, json={"ownerId": admin.id, **body})
    assert response.status_code == 201, await response.get_json()
    return dict(await response.get_json())


async def test_create_with_immich_defaults_and_list(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    empty = await client.get("/api/libraries", headers=admin.headers)
    assert empty.status_code == 200 and await empty.get_json() == []

    library = await _create(client, admin)
    assert set(library) == LIBRARY_FIELDS
    assert library["name"] == "New External Library"
    assert library["importPaths"] == []
    assert library["exclusionPatterns"] == [
        "**/@eaDir/**", "**/._*", "**/#recycle/**", "**/#snapshot/**", "**/.stversions/**", "**/.stfolder/**",
    ]
    assert library["ownerId"] == admin.id and library["assetCount"] == 0 and library["refreshedAt"] is None

    named = await _create(client, admin, name="Photos", importPaths=["/mnt/photos"], exclusionPatterns=[])
    assert (named["name"], named["importPaths"], named["exclusionPatterns"]) == ("Photos", ["/mnt/photos"], [])

    listed = await (await client.get("/api/libraries", headers=admin.headers)).get_json()
    assert [item["id"] for item in listed] == [library["id"], named["id"]]  # oldest first
    got = await client.get(f"/api/libraries/{named['id']}", headers=admin.headers)
    assert got.status_code == 200 and await got.get_json() == named


async def test_libraries_are_admin_only(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("user@example.com")
    response = await client.post("/api/libraries", headers=user.headers, json={"ownerId": user.id})
    assert response.status_code == 403
    assert (await response.get_json())["message"] == "Forbidden"
    assert sql("SELECT count(*) FROM library") == [(0,)]


async def test_bad_arrays_are_refused_whole(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    for body, message in (
        ({"importPaths": ["/a", "/a"]}, "Array must have unique items"),
        ({"exclusionPatterns": ["**/x", " "]}, "Array items must not be empty"),
    ):
        response = await client.post("/api/libraries", headers=admin.headers, json={"ownerId": admin.id, **body})
        assert response.status_code == 400
        answer = await response.get_json()
        assert answer["message"] == "Validation failed"
        assert answer["errors"] == [{"code": "custom", "path": list(body), "message": message}]
    too_many = {"ownerId": admin.id, "importPaths": [f"/p{i}" for i in range(129)]}
    assert (await client.post("/api/libraries", headers=admin.headers, json=too_many)).status_code == 400
    assert sql("SELECT count(*) FROM library") == [(0,)]


async def test_unknown_library_answers_library_not_found(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    for method, path in (
        ("GET", f"/api/libraries/{MISSING_ID}"),
        ("PUT", f"/api/libraries/{MISSING_ID}"),
        ("DELETE", f"/api/libraries/{MISSING_ID}"),
        ("POST", f"/api/libraries/{MISSING_ID}/scan"),
    ):
        response = await client.open(path, method=method, headers=admin.headers, json={} if method == "PUT" else None)
        assert response.status_code == 400, path
        assert (await response.get_json())["message"] == "Library not found"
    stats = await client.get(f"/api/libraries/{MISSING_ID}/statistics", headers=admin.headers)
    assert stats.status_code == 400
    assert (await stats.get_json())["message"] == f"Library {MISSING_ID} not found"


async def test_validate_import_paths(client: Any, make_user: MakeUser, runtime: Any, tmp_path: Path) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    library = await _create(client, admin)
    photos = tmp_path / "photos"
    photos.mkdir()
    a_file = tmp_path / "file.jpg"
    a_file.write_bytes(b"x")
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    media = runtime.settings.media_location
    paths = [str(photos), str(tmp_path / "gone"), str(a_file), "relative/photos", str(media / "upload"), str(loop)]
    response = await client.post(
        f"/api/libraries/{library['id']}/validate", headers=admin.headers, json={"importPaths": paths}
    )
    assert response.status_code == 200
    loop_error = node_error_text(OSError(40, "x"), "stat", str(loop))
    assert loop_error == f"Error: ELOOP: too many symbolic links encountered, stat '{loop}'"
    assert await response.get_json() == {
        "importPaths": [
            {"importPath": str(photos), "isValid": True},
            {"importPath": str(tmp_path / "gone"), "isValid": False, "message": "Path does not exist (ENOENT)"},
            {"importPath": str(a_file), "isValid": False, "message": "Not a directory"},
            {
                "importPath": "relative/photos",
                "isValid": False,
                "message": f"Import path must be absolute, try {Path.cwd() / 'relative/photos'}",
            },
            {
                "importPath": str(media / "upload"),
                "isValid": False,
                "message": "Cannot use media upload folder for external libraries",
            },
            {"importPath": str(loop), "isValid": False, "message": loop_error},
        ]
    }
    # Immich validates without looking the library up; no paths, no answers
    empty = await client.post(f"/api/libraries/{MISSING_ID}/validate", headers=admin.headers, json={})
    assert empty.status_code == 200 and await empty.get_json() == {"importPaths": []}


async def test_update_checks_import_paths(client: Any, make_user: MakeUser, tmp_path: Path) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    library = await _create(client, admin, name="Before")
    url = f"/api/libraries/{library['id']}"
    bad = await client.put(url, headers=admin.headers, json={"name": "After", "importPaths": [str(tmp_path / "gone")]})
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Invalid import path: Path does not exist (ENOENT)"
    unchanged = await (await client.get(url, headers=admin.headers)).get_json()
    assert unchanged["name"] == "Before"  # nothing half-written

    duplicate = await client.put(url, headers=admin.headers, json={"exclusionPatterns": ["*.tmp", "*.tmp"]})
    assert duplicate.status_code == 400

    response = await client.put(
        url, headers=admin.headers, json={"name": "After", "importPaths": [str(tmp_path)], "exclusionPatterns": []}
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["name"], body["importPaths"], body["exclusionPatterns"]) == ("After", [str(tmp_path)], [])
    assert body["createdAt"] == library["createdAt"]
    renamed = await (await client.put(url, headers=admin.headers, json={"name": "Again"})).get_json()
    assert (renamed["name"], renamed["importPaths"]) == ("Again", [str(tmp_path)])


async def test_statistics_count_the_library_assets(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    library = await _create(client, admin)
    url = f"/api/libraries/{library['id']}/statistics"
    response = await client.get(url, headers=admin.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"photos": 0, "videos": 0, "total": 0, "usage": 0}
    for name, kind, size, trashed in (("a.jpg", "IMAGE", 100, False), ("b.mp4", "VIDEO", 2000, False),
                                      ("c.jpg", "IMAGE", 7, True)):
        [(asset_id,)] = sql(
            'INSERT INTO asset ("ownerId", "libraryId", type, "originalPath", "originalFileName", checksum,'
            ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime", "isExternal", "deletedAt")'
            " VALUES (%s, %s, %s, %s, %s, %s, 'sha1-path', now(), now(), now(), true,"
            " CASE WHEN %s THEN now() END) RETURNING id",
            (admin.id, library["id"], kind, f"/mnt/{name}", name, name.encode(), trashed),
        )
        sql('INSERT INTO asset_exif ("assetId", "fileSizeInByte") VALUES (%s, %s)', (asset_id, size))
    response = await client.get(url, headers=admin.headers)
    assert await response.get_json() == {"photos": 1, "videos": 1, "total": 2, "usage": 2100}


async def test_scan_queues_immich_jobs(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    library = await _create(client, admin)
    response = await client.post(f"/api/libraries/{library['id']}/scan", headers=admin.headers)
    assert response.status_code == 204
    assert sql("SELECT queue, name, data->>'id' FROM immich_trio.job ORDER BY id") == [
        ("library", "LibrarySyncFilesQueueAll", library["id"]),
        ("library", "LibraryScanAssetsQueueAll", library["id"]),
    ]


async def test_delete_hides_the_library_and_queues_its_removal(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    library = await _create(client, admin)
    response = await client.delete(f"/api/libraries/{library['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert await (await client.get("/api/libraries", headers=admin.headers)).get_json() == []
    gone = await client.get(f"/api/libraries/{library['id']}", headers=admin.headers)
    assert gone.status_code == 400
    assert sql('SELECT "deletedAt" IS NOT NULL FROM library') == [(True,)]
    assert sql("SELECT name, data->>'id' FROM immich_trio.job") == [("LibraryDelete", library["id"])]
    again = await client.delete(f"/api/libraries/{library['id']}", headers=admin.headers)
    assert again.status_code == 400


async def test_starting_the_library_queue_scans_every_library(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    response = await client.put("/api/jobs/library", headers=admin.headers, json={"command": "start"})
    assert response.status_code == 200
    assert sql("SELECT queue, name FROM immich_trio.job") == [("library", "LibraryScanQueueAll")]


async def test_an_unknown_owner_is_refused_and_nothing_written(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    response = await client.post("/api/libraries", headers=admin.headers, json={"ownerId": MISSING_ID})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "User not found"
    assert sql("SELECT count(*) FROM library") == [(0,)]
