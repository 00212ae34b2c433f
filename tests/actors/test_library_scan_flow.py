"""External libraries on the whole server: a scan imports the import path's photos through the
upload pipeline (metadata, thumbnails), a missing file goes offline and to the trash and comes
back, an XMP sidecar beside a photo is found before its metadata is read (Immich's
``SidecarCheck`` first), a changed file is read again, an exclusion pattern takes its files offline, and deleting
the library removes its assets and never a file of the import path."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, wait_for
from PIL import Image

UNFINISHED = "SELECT name, status, error FROM immich_trio.job"
SIDECAR = """<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'>
<dc:description><rdf:Alt><rdf:li xml:lang='x-default'>From second.xmp</rdf:li></rdf:Alt></dc:description>
</rdf:Description></rdf:RDF></x:xmpmeta>
"""
ASSETS = 'SELECT "originalPath", "isOffline", "deletedAt" IS NOT NULL FROM asset ORDER BY "originalPath"'


def _photo(path: Path, size: tuple[int, int], color: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


async def _scan(client: httpx.AsyncClient, server: Server, admin: User, library_id: str) -> None:
    response = await client.post(f"/api/libraries/{library_id}/scan", headers=admin.headers)
    assert response.status_code == 204, response.text
    await wait_for(server, UNFINISHED, (), [])


async def _asset(client: httpx.AsyncClient, admin: User, path: Path, server: Server) -> dict[str, Any]:
    [(asset_id,)] = await server.asql('SELECT id::text FROM asset WHERE "originalPath" = %s', (str(path),))
    response = await client.get(f"/api/assets/{asset_id}", headers=admin.headers)
    assert response.status_code == 200
    return dict(response.json())


async def test_scan_imports_marks_offline_and_back_and_deletes(server: Server, tmp_path: Path) -> None:
    admin = await trio.to_thread.run_sync(lambda: make_user(server.db_url, "admin@example.com", is_admin=True))
    photos = tmp_path / "photos"
    first, second = photos / "2024" / "first.jpg", photos / "second.png"
    _photo(first, (64, 48), "red")
    _photo(second, (30, 20), "blue")
    _photo(photos / "@eaDir" / "first.jpg", (8, 8), "green")  # Synology's thumbnails: excluded by default
    (photos / "notes.txt").write_text("not media")
    (photos / "second.xmp").write_text(SIDECAR)  # <name>.xmp: found by the import's sidecar check
    os.symlink(photos, photos / "loop")
    before = sorted((p, p.stat().st_mtime_ns) for p in photos.rglob("*") if p.is_file())

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        created = await client.post(
            "/api/libraries", headers=admin.headers, json={"ownerId": admin.id, "importPaths": [str(photos)]}
        )
        library = created.json()
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        assert await server.asql(ASSETS) == [(str(first), False, False), (str(second), False, False)]
        dto = await _asset(client, admin, first, server)
        assert dto["libraryId"] == library["id"] and dto["originalPath"] == str(first)
        assert dto["originalFileName"] == "first.jpg" and dto["isOffline"] is False
        assert dto["checksum"] == base64.b64encode(hashlib.sha1(f"path:{first}".encode()).digest()).decode()
        assert dto["thumbhash"] and (dto["width"], dto["height"]) == (64, 48)  # the upload pipeline ran
        dto = await _asset(client, admin, second, server)
        assert dto["exifInfo"]["description"] == "From second.xmp"
        assert await server.asql("SELECT path FROM asset_file WHERE type = 'sidecar'") == [(str(photos / "second.xmp"),)]
        stats = (await client.get(f"/api/libraries/{library['id']}/statistics", headers=admin.headers)).json()
        assert (stats["photos"], stats["videos"], stats["total"]) == (2, 0, 2) and stats["usage"] > 0
        refreshed = (await client.get(f"/api/libraries/{library['id']}", headers=admin.headers)).json()
        assert refreshed["refreshedAt"] is not None

        # a rescan with nothing changed changes nothing
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        assert await server.asql("SELECT count(*) FROM asset") == [(2,)]

        # the file goes away: offline and trashed; it comes back: online, out of the trash
        hidden = tmp_path / "first.jpg.away"
        first.rename(hidden)
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        dto = await _asset(client, admin, first, server)
        assert (dto["isOffline"], dto["isTrashed"]) == (True, True)
        hidden.rename(first)
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        dto = await _asset(client, admin, first, server)
        assert (dto["isOffline"], dto["isTrashed"]) == (False, False)

        # a changed file (new mtime) is read again: its new size shows
        _photo(second, (90, 60), "yellow")
        os.utime(second, (1_700_000_000, 1_700_000_000))
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        dto = await _asset(client, admin, second, server)
        assert (dto["width"], dto["height"]) == (90, 60)
        assert dto["fileModifiedAt"] == "2023-11-14T22:13:20.000Z"

        # an exclusion pattern added later takes its files offline
        response = await client.put(
            f"/api/libraries/{library['id']}",
            headers=admin.headers,
            json={"exclusionPatterns": ["**/@eaDir/**", "**/2024/**"]},
        )
        assert response.status_code == 200
        with trio.fail_after(LIMIT):
            await _scan(client, server, admin, library["id"])
        assert await server.asql(ASSETS) == [(str(first), True, True), (str(second), False, False)]

        # deleting the library removes its assets, never the files of the import path
        response = await client.delete(f"/api/libraries/{library['id']}", headers=admin.headers)
        assert response.status_code == 204
        with trio.fail_after(LIMIT):
            await wait_for(server, "SELECT count(*) FROM asset", (), [(0,)])
            # the library row goes when LibraryDelete looks again (a minute later) and finds no asset
            await wait_for(server, UNFINISHED, (), [("LibraryDelete", "waiting", None)])
    after = sorted((p, p.stat().st_mtime_ns) for p in photos.rglob("*") if p.is_file())
    # every file is still there, untouched (but second.png, which the test itself rewrote)
    assert [p for p, _ in after] == [p for p, _ in before]
    assert [item for item in after if item[0] != second] == [item for item in before if item[0] != second]
