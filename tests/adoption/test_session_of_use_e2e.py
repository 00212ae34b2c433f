"""An adopted Immich installation after a session of use on this server (uploads with their jobs,
edits, albums, sharing, tags, stacks, memories, partners, trash, keys): Immich's schema is still
exactly the fixture's (tables, columns, constraints, indexes, triggers and functions of
``public``), so Immich v3.1.0 can start on it again; new files follow Immich's layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.sql.driver import connect
from immich_trio.sql.media_location import change_media_location
from tests.adoption.conftest import FIXTURE, query
from tests.adoption.test_adopt_database import CATALOGUE
from tests.e2e.conftest import call, new_server, wait_jobs_idle
from tests.e2e.test_workers_e2e import _photo, _upload

pytestmark = pytest.mark.e2e


async def _map_media(url: str, media: Path) -> None:
    conn = await connect(url, autocommit=True)
    try:
        await change_media_location(conn, "/data", str(media))
    finally:
        await conn.close()


def _ok(answer: Any, *statuses: int) -> Any:
    assert answer.status in statuses, (answer.status, answer.body)
    return answer.body


def _files(media: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(media)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in (media / "thumbs").rglob("*") if p.is_file() and p.name != ".immich"  # rewritten at each start
    }


def test_only_what_immich_left_undone_is_made(adopted_url: str, accounts: dict[str, Any], tmp_path: Path) -> None:
    """A thumbnail job Immich never ran (its queue lived in Redis): the missing-thumbnails pass
    makes that one and leaves every file Immich made as it was."""
    media = tmp_path / "immich-media"
    shutil.copytree(FIXTURE / "media", media)
    trio.run(_map_media, adopted_url, media)
    undone = "4f38a185-1264-4e90-a9a2-e249f2cde783"
    owner = accounts["admin"]["id"]
    for path in (media / "thumbs" / owner / "4f" / "38").glob(f"{undone}_*"):
        path.unlink()
    query(adopted_url, 'DELETE FROM asset_file WHERE "assetId" = %s AND type IN (\'thumbnail\', \'preview\')', (undone,))
    query(adopted_url, 'UPDATE asset SET thumbhash = NULL WHERE id = %s', (undone,))
    kept = _files(media)

    server = new_server(tmp_path, extra_env={"DB_URL": adopted_url, "IMMICH_MEDIA_LOCATION": str(media)})
    server.start()
    try:
        me = {"x-api-key": accounts["admin"]["apiKey"]}
        wait_jobs_idle(server.api, me)
        assert _files(media) == kept  # starting queues nothing over Immich's work
        _ok(call(server.api, "PUT", "/jobs/thumbnailGeneration", {"command": "start", "force": False}, me), 200)
        wait_jobs_idle(server.api, me)
    finally:
        server.stop()
    after = _files(media)
    made = sorted(set(after) - set(kept))
    assert [Path(name).name for name in made] == [f"{undone}_preview.jpeg", f"{undone}_thumbnail.webp"]
    assert {name: after[name] for name in kept} == kept
    assert query(adopted_url, "SELECT thumbhash IS NOT NULL FROM asset WHERE id = %s", (undone,)) == [(True,)]


def test_a_session_of_use_leaves_immichs_schema_as_it_was(
    adopted_url: str, accounts: dict[str, Any], tmp_path: Path
) -> None:
    media = tmp_path / "immich-media"
    shutil.copytree(FIXTURE / "media", media)
    trio.run(_map_media, adopted_url, media)
    before = query(adopted_url, CATALOGUE)
    immich_migrations = query(adopted_url, "SELECT name FROM kysely_migrations ORDER BY name")

    server = new_server(tmp_path, extra_env={"DB_URL": adopted_url, "IMMICH_MEDIA_LOCATION": str(media)})
    server.start()
    try:
        api, admin, ana = server.api, accounts["admin"], accounts["ana"]
        login = _ok(call(api, "POST", "/auth/login", {"email": admin["email"], "password": admin["password"]}), 201)
        token = login["accessToken"]
        me = {"Authorization": f"Bearer {token}"}
        new = []
        for n in range(3):
            status, body = _upload(api, token, f"adopted-{n}.jpg", _photo(500 + n, "Adopted"))
            assert status == 201, body
            new.append(body["id"])
        wait_jobs_idle(api, me)

        old = _ok(call(api, "POST", "/search/metadata", {"size": 50}, me), 200)["assets"]["items"]
        old_ids = [a["id"] for a in old if a["id"] not in new]
        assert old_ids, "the fixture's own assets are searchable"
        _ok(call(api, "PUT", f"/assets/{new[0]}", {"description": "after the switch", "isFavorite": True}, me), 200)
        _ok(call(api, "PUT", "/assets", {"ids": [old_ids[0]], "isArchived": True}, me), 204)
        album = _ok(call(api, "POST", "/albums", {
            "albumName": "Since the switch", "assetIds": [new[0], old_ids[-1]],
            "albumUsers": [{"userId": ana["id"], "role": "editor"}],
        }, me), 201)  # fmt: skip
        _ok(call(api, "POST", "/shared-links", {"type": "ALBUM", "albumId": album["id"]}, me), 201)
        tags = _ok(call(api, "PUT", "/tags", {"tags": ["switched/2026"]}, me), 200)
        _ok(call(api, "PUT", f"/tags/{tags[-1]['id']}/assets", {"ids": new}, me), 200)
        _ok(call(api, "POST", "/stacks", {"assetIds": [new[1], new[2]]}, me), 201)
        _ok(call(api, "POST", "/memories", {
            "type": "on_this_day", "data": {"year": 2024}, "memoryAt": "2024-05-01T00:00:00.000Z",
            "assetIds": [new[0]],
        }, me), 201)  # fmt: skip
        partners = _ok(call(api, "GET", "/partners?direction=shared-by", headers=me), 200)
        if not any(p["id"] == ana["id"] for p in partners):
            _ok(call(api, "POST", "/partners", {"sharedWithId": ana["id"]}, me), 201)
        _ok(call(api, "DELETE", "/assets", {"ids": [old_ids[-1]]}, me), 204)
        _ok(call(api, "POST", "/trash/restore/assets", {"ids": [old_ids[-1]]}, me), 200)
        _ok(call(api, "PUT", "/users/me", {"name": "Alex (switched)"}, me), 200)
        _ok(call(api, "POST", "/api-keys", {"name": "after", "permissions": ["all"]}, me), 201)
        wait_jobs_idle(api, me)

        # New files went where Immich puts them.
        for asset_id in new:
            original = query(adopted_url, 'SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))[0][0]
            assert original.startswith(f"{media}/upload/{admin['id']}/"), original
            files = dict(query(adopted_url, 'SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)))
            for kind in ("thumbnail", "preview"):
                assert files[kind].startswith(f"{media}/thumbs/{admin['id']}/"), files
            assert all(Path(p).is_file() for p in files.values()), files
    finally:
        server.stop()

    assert query(adopted_url, CATALOGUE) == before
    assert query(adopted_url, "SELECT name FROM kysely_migrations ORDER BY name") == immich_migrations
