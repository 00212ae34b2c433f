"""Sharing against the real server process, as outside clients use it.

- A public-share visit as share proxies (immich-public-proxy) script it, holding nothing but the
  link's key (or slug): ``GET /api/shared-links/me``, the album's assets, then each asset's
  thumbnail and original; a password link first through ``POST /api/shared-links/login`` and
  its cookie. The bytes are the real files.
- A client that drops the connection in the middle of a ZIP download: the server stays healthy,
  leaves no file behind and logs no unhandled error.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ServerProcess, call
from tests.e2e.test_crash_e2e import _upload
from tests.e2e.test_foundation_e2e import ADMIN, _wait_for

JPEG_MAGIC = b"\xff\xd8\xff"
DROP_FILES = 4
DROP_FILE_SIZE = 32 * 1024 * 1024  # sparse: no disk space, no write time


def _is_webp(data: Any) -> bool:
    return isinstance(data, bytes) and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _admin(api: str) -> tuple[dict[str, str], str]:
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
        "accessToken"
    ]
    session = {"Authorization": f"Bearer {token}"}
    key = call(api, "POST", "/api-keys", {"name": "k", "permissions": ["all"]}, session).body["secret"]
    return session, key


def _upload_all(api: str, key: str, files: list[Path]) -> dict[str, bytes]:
    out = {}
    for path in files:
        data = path.read_bytes()
        status, body = _upload(api, key, path.name, data)
        assert status == 201, body
        out[body["id"]] = data
    return out


def _thumbnails_ready(api: str, session: dict[str, str], ids: list[str]) -> None:
    for asset_id in ids:
        path = f"/assets/{asset_id}/thumbnail"
        _wait_for(lambda path=path: call(api, "GET", path, headers=session).status == 200, 60, path)


def _visit(api: str, query: str, cookie: str | None = None) -> list[str]:
    """A proxy's visit with ``query`` (``key=...`` or ``slug=...``) only: the link, its assets,
    each thumbnail and original. Returns the asset ids it saw."""
    headers = {"Cookie": cookie} if cookie else {}
    me = call(api, "GET", f"/shared-links/me?{query}", headers=headers)
    assert me.status == 200, me.body
    link = me.body
    assets = link["assets"]
    if link["type"] != "ALBUM":
        return [a["id"] for a in assets]
    # an album link's assets come from the album's timeline, bucket by bucket
    album = link["album"]["id"]
    buckets = call(api, "GET", f"/timeline/buckets?albumId={album}&{query}", headers=headers)
    assert buckets.status == 200, buckets.body
    ids: list[str] = []
    for bucket in buckets.body:
        page = call(api, "GET", f"/timeline/bucket?albumId={album}&timeBucket={bucket['timeBucket']}&{query}",
                    headers=headers)
        assert page.status == 200, page.body
        ids.extend(page.body["id"])
    return ids


def _fetch_files(api: str, query: str, uploaded: dict[str, bytes], ids: list[str], cookie: str | None = None) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    for asset_id in ids:
        thumb = call(api, "GET", f"/assets/{asset_id}/thumbnail?{query}", headers=headers)
        assert thumb.status == 200 and _is_webp(thumb.body), (asset_id, thumb.status)
        preview = call(api, "GET", f"/assets/{asset_id}/thumbnail?size=preview&{query}", headers=headers)
        assert preview.status == 200 and preview.body[:3] == JPEG_MAGIC, (asset_id, preview.status)
        original = call(api, "GET", f"/assets/{asset_id}/original?{query}", headers=headers)
        assert original.status == 200 and original.body == uploaded[asset_id], (asset_id, original.status)


def test_public_share_visit(server: ServerProcess, test_assets: Path) -> None:
    api = server.api
    session, key = _admin(api)
    uploaded = _upload_all(api, key, sorted((test_assets / "albums" / "nature").glob("*.jpg"))[:3])
    ids = list(uploaded)
    _thumbnails_ready(api, session, ids)
    album = call(api, "POST", "/albums", {"albumName": "Nature", "assetIds": ids}, session).body["id"]
    album_link = call(api, "POST", "/shared-links", {"type": "ALBUM", "albumId": album, "slug": "nature"}, session)
    assert album_link.status == 201, album_link.body
    password_link = call(api, "POST", "/shared-links",
                         {"type": "INDIVIDUAL", "assetIds": ids[:2], "password": "secret"}, session)
    assert password_link.status == 201, password_link.body

    for query in (f"key={album_link.body['key']}", "slug=nature"):
        seen = _visit(api, query)
        assert sorted(seen) == sorted(ids)
        _fetch_files(api, query, uploaded, seen)

    query = f"key={password_link.body['key']}"
    me = call(api, "GET", f"/shared-links/me?{query}")
    assert (me.status, me.body) == (401, {"message": "Password required"})
    wrong = call(api, "POST", f"/shared-links/login?{query}", {"password": "nope"})
    assert (wrong.status, wrong.body) == (401, {"message": "Invalid password"})
    login = call(api, "POST", f"/shared-links/login?{query}", {"password": "secret"})
    assert login.status == 201, login.body
    cookie = login.headers["set-cookie"].split(";")[0]
    assert cookie.startswith("immich_shared_link_token=")
    seen = _visit(api, query, cookie)
    assert seen == ids[:2]
    _fetch_files(api, query, uploaded, seen, cookie)
    # the third photo is not in the link
    assert call(api, "GET", f"/assets/{ids[2]}/original?{query}", headers={"Cookie": cookie}).status == 404


def _media_files(server: ServerProcess) -> set[str]:
    postgres = server.media / "postgres"
    return {str(p.relative_to(server.media)) for p in server.media.rglob("*")
            if p.is_file() and postgres not in p.parents}


def _log_problems(text: str) -> list[str]:
    words = ("Traceback", "Unhandled", "ERROR", "Exception", "error:")
    return [line for line in text.splitlines() if any(w in line for w in words)]


def test_dropped_client_during_zip_download(server: ServerProcess, test_assets: Path) -> None:
    api = server.api
    session, key = _admin(api)
    files = sorted((test_assets / "albums" / "nature").glob("*.jpg"))[:DROP_FILES]
    ids = list(_upload_all(api, key, files))
    _thumbnails_ready(api, session, ids)
    time.sleep(1)  # let the metadata pass settle before the originals grow
    for asset_id in ids:
        path = Path(call(api, "GET", f"/assets/{asset_id}", headers=session).body["originalPath"])
        with path.open("r+b") as f:
            f.truncate(DROP_FILE_SIZE)
    files_before = _media_files(server)
    log_before = len(server.log_path.read_text(errors="replace"))

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/api/download/archive", body=json.dumps({"assetIds": ids}),
                       headers={**session, "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "application/octet-stream"
    first = response.read(256 * 1024)
    assert first[:4] == b"PK\x03\x04"
    connection.close()  # the client goes away with most of the archive unsent

    time.sleep(2)
    assert server.proc is not None and server.proc.poll() is None
    assert call(api, "GET", "/server/ping").body == {"res": "pong"}
    info = call(api, "POST", "/download/info", {"assetIds": ids}, session)
    assert info.status == 201 and sorted(i for a in info.body["archives"] for i in a["assetIds"]) == sorted(ids)
    # a full archive still streams after the drop
    whole = call(api, "POST", "/download/archive", {"assetIds": ids[:1]}, session, timeout=120)
    assert whole.status == 200 and whole.body[:4] == b"PK\x03\x04" and len(whole.body) > DROP_FILE_SIZE
    assert _media_files(server) == files_before
    problems = _log_problems(server.log_path.read_text(errors="replace")[log_before:])
    assert not problems, "\n".join(problems)


