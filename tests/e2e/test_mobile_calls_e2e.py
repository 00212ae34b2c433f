"""Immich's mobile app, from sign-in to a backed-up, synced library, against the real server
process: the app's calls in the app's order with the app's request shapes (the list and where
each comes from in the app's source: docs/mobile-calls.md). Every 2xx JSON body is checked
against the spec's response schema."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import queue
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import attrs
import pytest
from PIL import Image

from tests.e2e.conftest import ServerProcess, call, wait_jobs_idle
from tests.e2e.mobile_app import CAP, App, next_event, schema, video_clip
from tests.e2e.test_sync_e2e import HttpClient, _run
from tests.e2e.test_workers_e2e import _photo
from tests.http.response_schema import check, mismatch
from tests.sync_client import MOBILE_TYPES, SyncClient

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess], db_url: str) -> Iterator[ServerProcess]:
    s = server_factory({"DB_URL": db_url})
    s.start()
    yield s


def test_the_mobile_app_signs_in_backs_up_syncs_and_browses(server: ServerProcess) -> None:
    socketio = pytest.importorskip("socketio")
    pytest.importorskip("websocket", reason="python-socketio's sync client needs websocket-client")
    app = App(server)
    assert call(server.api, "POST", "/auth/admin-sign-up", ADMIN).status == 201

    # --- Server discovery (ApiService.resolveEndpoint): ping, then /.well-known/immich.
    assert app.api("pingServer", "GET", "/server/ping").json == {"res": "pong"}
    known = app.raw("GET", server.url + "/.well-known/immich", None, {"Accept": "application/json"})
    assert (known.status, known.json) == (200, {"api": {"endpoint": "/api"}})
    features = app.api("getServerFeatures", "GET", "/server/features").json
    assert features["passwordLogin"] is True and features["oauth"] is False
    config = app.api("getServerConfig", "GET", "/server/config").json
    assert config["isInitialized"] is True
    version = app.api("getServerVersion", "GET", "/server/version").json
    assert version == {"major": 3, "minor": 1, "patch": 0, "prerelease": None}
    media = app.api("getSupportedMediaTypes", "GET", "/server/media-types").json
    assert ".jpg" in media["image"] and ".mp4" in media["video"]

    # --- Sign-in (AuthApiRepository.login; the login page sends the device's model and type).
    login = app.api(
        "login", "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]},
        deviceModel="Pixel 8", deviceType="Android", **{"User-Agent": "immich-android/2.3.1"},
    )
    assert login.status == 201
    app.token = login.json["accessToken"]
    assert login.json["userEmail"] == ADMIN["email"] and login.json["isAdmin"] is True
    assert app.api("validateAccessToken", "POST", "/auth/validateToken").json == {"authStatus": True}
    me = app.api("getMyUser", "GET", "/users/me").json
    assert me["email"] == ADMIN["email"]
    prefs = app.api("getMyPreferences", "GET", "/users/me/preferences").json
    assert prefs["memories"]["enabled"] is True
    [session] = [s for s in app.api("getSessions", "GET", "/sessions").json if s["current"]]
    assert (session["deviceOS"], session["deviceType"], session["appVersion"]) == ("Android", "Pixel 8", "2.3.1")
    # UserApiRepository.createProfileImage: raw multipart, one part "file", no part type given.
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, "PNG")
    boundary = uuid.uuid4().hex
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="profile-picture.png"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + png.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    )
    avatar = app.raw("POST", app.server.api + "/users/profile-image", form,
                     {**app.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    check("createProfileImage", avatar.status, avatar.headers["content-type"], avatar.raw)
    assert avatar.status == 201 and avatar.json["profileImagePath"].endswith(".png")
    served = app.api("getProfileImage", "GET", f"/users/{me['id']}/profile-image")
    assert (served.headers["content-type"], served.raw) == ("image/png", png.getvalue())
    disk = app.api("getStorage", "GET", "/server/storage").json
    assert disk["diskSizeRaw"] > 0

    # --- The socket (websocket.provider.dart): Bearer token, websocket transport, /api/socket.io.
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = socketio.Client(reconnection=False)
    listened = ("on_server_version", "AssetUploadReadyV2", "AssetEditReadyV2", "on_upload_success", "on_album_update",
                "on_config_update", "on_asset_trash", "on_asset_restore")  # fmt: skip
    for name in listened:
        client.on(name, partial(lambda name, *args: events.put((name, list(args))), name))
    client.connect(
        server.url, socketio_path="/api/socket.io", transports=["websocket"],
        headers={"Authorization": f"Bearer {app.token}"}, wait_timeout=CAP,
    )  # fmt: skip
    try:
        assert next_event(events, "on_server_version") == [{"major": 3, "minor": 1, "patch": 0, "prerelease": None}]
        _backup_view_and_organise(app, events, me["id"])
    finally:
        client.disconnect()


@attrs.define
class Library:
    """What the walk has made so far, as the phone knows it."""

    app: App
    events: queue.Queue[tuple[str, Any]]
    my_id: str
    photo: bytes = b""
    checksum: str = ""
    asset_id: str = ""
    video_id: str = ""
    secret: str = ""
    album_id: str = ""
    friend_id: str = ""
    phone: SyncClient | None = None


def _backup_view_and_organise(app: App, events: queue.Queue[tuple[str, Any]], my_id: str) -> None:
    lib = Library(app, events, my_id)
    _backup_and_sync(lib)
    _view_and_edit(lib)
    _act_and_lock(lib)
    _share(lib)
    _search_map_and_download(lib)
    _sync_again_and_sign_out(lib)


def _backup_and_sync(lib: Library) -> None:
    """Backup with the upload task, the ready events, the first sync."""
    app, events = lib.app, lib.events
    photo = _photo(7, "PhoneCam")
    checksum = base64.b64encode(hashlib.sha1(photo).digest()).decode()

    # --- Backup. The v3 app picks candidates from its own hashes against the synced assets; the
    # bulk check is what the web and the CLI ask first (checked here with the same checksum).
    check_body = {"assets": [{"id": "local-1", "checksum": checksum}]}
    first = app.api("checkBulkUpload", "POST", "/assets/bulk-upload-check", check_body).json
    assert first == {"results": [{"id": "local-1", "action": "accept"}]}
    # An iPhone adds its iCloud id as asset metadata (RemoteAssetMetadataKey.mobileApp).
    cloud = {"iCloudId": "ICLOUD-1", "createdAt": "2024-05-01T10:00:00.000", "latitude": "48.85",
             "longitude": "2.35"}  # fmt: skip
    up = app.upload(photo, "IMG_0001.jpg", "local-1", metadata=json.dumps([{"key": "mobile-app", "value": cloud}]))
    assert up.status == 201 and up.json["status"] == "created"
    asset_id = up.json["id"]
    [uploaded] = next_event(events, "on_upload_success", lambda a: a[0]["id"] == asset_id)
    assert uploaded["originalFileName"] == "IMG_0001.jpg" and uploaded["checksum"] == checksum
    [ready] = next_event(events, "AssetUploadReadyV2", lambda a: a[0]["asset"]["id"] == asset_id)
    assert ready["asset"]["checksum"] == checksum and ready["exif"]["make"] == "PhoneCam"
    # The app parses these with its generated SyncAssetV2 / SyncAssetExifV1 classes.
    assert mismatch(schema("SyncAssetV2"), ready["asset"]) is None
    assert mismatch(schema("SyncAssetExifV1"), ready["exif"]) is None

    again = app.api("checkBulkUpload", "POST", "/assets/bulk-upload-check", check_body).json
    assert again == {"results": [
        {"id": "local-1", "action": "reject", "reason": "duplicate", "assetId": asset_id, "isTrashed": False}
    ]}  # fmt: skip
    dup = app.upload(photo, "IMG_0001.jpg", "local-1")
    assert (dup.status, dup.json) == (200, {"id": asset_id, "status": "duplicate"})

    clip = app.upload(video_clip(), "VID_0002.mp4", "local-2")
    assert clip.status == 201
    video_id = clip.json["id"]
    next_event(events, "on_upload_success", lambda a: a[0]["id"] == video_id)

    # --- Sync (SyncStreamService): the v3 types, every line stored, acked.
    phone = SyncClient(HttpClient(app.server.port), app.auth, ack_batch=50)
    lines = _run(phone.sync(MOBILE_TYPES, reset=True))  # a fresh install may start with reset: true
    assert lines[-1]["type"] == "SyncCompleteV1"
    assets = phone.table("assets")
    assert set(assets) == {asset_id, video_id}
    assert assets[asset_id]["checksum"] == checksum and assets[video_id]["type"] == "VIDEO"
    [meta] = [m for m in phone.table("asset_metadata").values() if m["assetId"] == asset_id]
    assert (meta["key"], meta["value"]) == ("mobile-app", cloud)
    acks = app.api("getSyncAck", "GET", "/sync/ack").json
    assert {a["type"] for a in acks} >= {"AssetV2", "AuthUserV1"}
    lib.photo, lib.checksum, lib.asset_id, lib.video_id, lib.phone = photo, checksum, asset_id, video_id, phone


def _view_and_edit(lib: Library) -> None:
    """The viewer, then the editor and AssetEditReadyV2."""
    app, events = lib.app, lib.events
    assert lib.phone is not None
    asset_id, video_id, photo, assets = lib.asset_id, lib.video_id, lib.photo, lib.phone.table("assets")
    # --- The viewer: thumbnail, preview, original, video playback, asset info.
    # The app's image URLs (getThumbnailUrlForRemoteId): edited=true and the thumbhash as cache buster.
    buster = urllib.parse.quote(assets[asset_id]["thumbhash"], safe="")
    thumb = app.api("viewAsset", "GET", f"/assets/{asset_id}/thumbnail?size=thumbnail&edited=true&c={buster}")
    assert thumb.status == 200 and thumb.headers["content-type"] == "image/webp" and thumb.raw[8:12] == b"WEBP"
    preview = app.api("viewAsset", "GET", f"/assets/{asset_id}/thumbnail?size=preview&edited=true&c={buster}")
    assert preview.headers["content-type"] == "image/jpeg" and preview.raw[:2] == b"\xff\xd8"
    original = app.api("downloadAsset", "GET", f"/assets/{asset_id}/original?edited=false")
    assert original.raw == photo
    playback = app.api("playAssetVideo", "GET", f"/assets/{video_id}/video/playback", Range="bytes=0-")
    assert (playback.status, playback.headers["content-type"]) == (206, "video/mp4")
    assert playback.headers["content-range"].startswith("bytes 0-")
    info = app.api("getAssetInfo", "GET", f"/assets/{asset_id}").json
    assert info["exifInfo"]["make"] == "PhoneCam" and info["isFavorite"] is False

    # --- The editor (AssetApiRepository.editAsset): the app waits for AssetEditReadyV2 and syncs it.
    rotate = {"edits": [{"action": "rotate", "parameters": {"angle": 90}}]}
    edited = app.api("editAsset", "PUT", f"/assets/{asset_id}/edits", rotate).json
    assert [(e["action"], e["parameters"]) for e in edited["edits"]] == [("rotate", {"angle": 90})]
    [edit_ready] = next_event(events, "AssetEditReadyV2", lambda a: a[0]["asset"]["id"] == asset_id)
    assert edit_ready["asset"]["isEdited"] is True
    assert (edit_ready["asset"]["width"], edit_ready["asset"]["height"]) == (600, 800)
    assert mismatch(schema("SyncAssetV2"), edit_ready["asset"]) is None
    [edit_line] = edit_ready["edit"]
    assert mismatch(schema("SyncAssetEditV1"), edit_line) is None
    assert edit_line == {"id": edited["edits"][0]["id"], "assetId": asset_id, "sequence": 0, "action": "rotate",
                         "parameters": {"angle": 90}}  # fmt: skip
    turned = app.api("viewAsset", "GET", f"/assets/{asset_id}/thumbnail?size=preview&edited=true&c=x")
    assert turned.raw[:2] == b"\xff\xd8" and turned.raw != preview.raw


def _act_and_lock(lib: Library) -> None:
    """Favourite, archive, trash and restore; the locked folder."""
    app, events = lib.app, lib.events
    asset_id, video_id = lib.asset_id, lib.video_id
    # --- Actions (ActionService): favourite, archive, trash and restore, all by PUT/DELETE /assets.
    assert app.api("updateAssets", "PUT", "/assets", {"ids": [asset_id], "isFavorite": True}).status == 204
    assert app.api("updateAssets", "PUT", "/assets", {"ids": [video_id], "visibility": "archive"}).status == 204
    assert app.api("deleteAssets", "DELETE", "/assets", {"ids": [video_id], "force": False}).status == 204
    assert next_event(events, "on_asset_trash") == [[video_id]]
    restored = app.api("restoreAssets", "POST", "/trash/restore/assets", {"ids": [video_id]}).json
    assert restored == {"count": 1}
    assert next_event(events, "on_asset_restore") == [[video_id]]

    # --- Locked folder (AuthApiRepository: setupPinCode, unlockPinCode, lockPinCode).
    secret = app.upload(_photo(8, "PhoneCam"), "IMG_0003.jpg", "local-3").json["id"]
    next_event(events, "on_upload_success", lambda a: a[0]["id"] == secret)
    assert app.api("setupPinCode", "POST", "/auth/pin-code", {"pinCode": "123456"}).status == 204
    # Moving into the locked folder needs no unlocked session (Immich checks the assets as they are);
    # seeing what is inside does.
    assert app.api("updateAssets", "PUT", "/assets", {"ids": [secret], "visibility": "locked"}).status == 204
    hidden = app.api("getAssetInfo", "GET", f"/assets/{secret}")
    assert (hidden.status, hidden.json["message"]) == (400, "Not found or no asset.read access")
    assert app.api("unlockAuthSession", "POST", "/auth/session/unlock", {"pinCode": "123456"}).status == 204
    status = app.api("getAuthStatus", "GET", "/auth/status").json
    assert (status["pinCode"], status["isElevated"]) == (True, True)
    assert app.api("getAssetInfo", "GET", f"/assets/{secret}").json["visibility"] == "locked"
    assert app.api("lockAuthSession", "POST", "/auth/session/lock").status == 204
    assert app.api("getAssetInfo", "GET", f"/assets/{secret}").status == 400
    lib.secret = secret


def _share(lib: Library) -> None:
    """An album, its shared link, a partner, the album shared with them."""
    app, events = lib.app, lib.events
    asset_id, video_id, my_id = lib.asset_id, lib.video_id, lib.my_id
    # --- Albums and sharing.
    album = app.api("createAlbum", "POST", "/albums", {"albumName": "Trip", "assetIds": [asset_id]}).json
    added = app.api("addAssetsToAlbum", "PUT", f"/albums/{album['id']}/assets", {"ids": [video_id]}).json
    assert added == [{"id": video_id, "success": True}]
    assert next_event(events, "on_album_update") == [album["id"]]
    link_body = {"type": "ALBUM", "albumId": album["id"], "showMetadata": True, "allowDownload": True,
                 "allowUpload": False}  # fmt: skip
    link = app.api("createSharedLink", "POST", "/shared-links", link_body).json
    # Immich's create answer carries no album (its query joins none); the list has it.
    assert link["type"] == "ALBUM" and "album" not in link and link["assets"] == []
    [listed] = app.api("getAllSharedLinks", "GET", f"/shared-links?albumId={album['id']}").json
    assert (listed["id"], listed["key"], listed["album"]["id"]) == (link["id"], link["key"], album["id"])
    friend = call(app.server.api, "POST", "/admin/users",
                  {"email": "friend@example.com", "password": "pw", "name": "Friend"}, app.auth)  # fmt: skip
    assert friend.status == 201
    partner = app.api("createPartner", "POST", "/partners", {"sharedWithId": friend.body["id"]}).json
    assert partner["id"] == friend.body["id"]
    shared_by = app.api("getPartners", "GET", "/partners?direction=shared-by").json
    assert [p["id"] for p in shared_by] == [friend.body["id"]]
    invite = {"albumUsers": [{"userId": friend.body["id"]}]}  # AlbumUserAddDto(userId), role left to the server
    shared_album = app.api("addUsersToAlbum", "PUT", f"/albums/{album['id']}/users", invite).json
    roles = {(u["user"]["id"], u["role"]) for u in shared_album["albumUsers"]}
    assert roles == {(my_id, "owner"), (friend.body["id"], "editor")}
    lib.album_id, lib.friend_id = album["id"], friend.body["id"]


def _search_map_and_download(lib: Library) -> None:
    """Search, map, memories, people and download pages."""
    app = lib.app
    asset_id, photo = lib.asset_id, lib.photo
    # --- Search, map, memories, people, download (their pages in the app).
    # SearchApiRepository.search: the filter's fields, empty people, timeline visibility, pages of 1000.
    by_name = {"originalFileName": "IMG_0001", "visibility": "timeline", "personIds": [], "page": 1, "size": 1000}
    found = app.api("searchAssets", "POST", "/search/metadata", by_name).json
    assert [a["id"] for a in found["assets"]["items"]] == [asset_id] and found["assets"]["nextPage"] is None
    by_context = {"query": "a dog", "visibility": "timeline", "personIds": [], "page": 1, "size": 1000}
    smart = app.api("searchSmart", "POST", "/search/smart", by_context)
    assert (smart.status, smart.json["message"]) == (400, "Smart search is not enabled")  # ML is off here
    assert app.api("getMapMarkers", "GET", "/map/markers?withPartners=true&withSharedAlbums=true").json == []
    assert app.api("searchMemories", "GET", "/memories").json == []
    people = app.api("getAllPeople", "GET", "/people?withHidden=false").json
    assert people["people"] == [] and people["total"] == 0
    # Download (DownloadService): edited=true gives the edited rendering, edited=false the file.
    fetched = app.api("downloadAsset", "GET", f"/assets/{asset_id}/original?edited=true")
    assert Image.open(io.BytesIO(fetched.raw)).size == (600, 800)
    assert app.api("downloadAsset", "GET", f"/assets/{asset_id}/original?edited=false").raw == photo


def _sync_again_and_sign_out(lib: Library) -> None:
    """The changes by sync, the friend's phone, sign-out."""
    app, phone = lib.app, lib.phone
    assert phone is not None
    asset_id, video_id, secret, my_id = lib.asset_id, lib.video_id, lib.secret, lib.my_id
    album, friend_id = {"id": lib.album_id}, lib.friend_id
    # --- Sync again: the changes arrive, nothing acked comes twice.
    wait_jobs_idle(app.server.api, app.auth, timeout=CAP)
    _run(phone.sync(MOBILE_TYPES))
    assert phone.table("assets")[asset_id]["isFavorite"] is True
    assert phone.table("assets")[video_id]["visibility"] == "archive"
    # The background task sends duration 0; the probe's milliseconds replace it.
    assert phone.table("assets")[video_id]["duration"] == 1000
    assert set(phone.table("albums")) == {album["id"]}
    assert set(phone.table("album_assets")) == {(album["id"], asset_id), (album["id"], video_id)}
    assert set(phone.table("partners")) == {(my_id, friend_id)}

    # --- The friend's phone: the shared album and the partner's library arrive by sync. As in Immich,
    # the stream carries every visibility and the app hides what is locked.
    friend_app = App(app.server)
    friend_login = {"email": "friend@example.com", "password": "pw"}
    friend_app.token = friend_app.api("login", "POST", "/auth/login", friend_login).json["accessToken"]
    friends_phone = SyncClient(HttpClient(app.server.port), friend_app.auth, ack_batch=50)
    _run(friends_phone.sync(MOBILE_TYPES))
    assert set(friends_phone.table("albums")) == {album["id"]}
    assert set(friends_phone.table("partners")) == {(my_id, friend_id)}
    seen = friends_phone.table("assets")
    assert set(seen) == {asset_id, video_id, secret} and seen[secret]["visibility"] == "locked"
    assert seen[asset_id]["isFavorite"] is False  # a partner's favourite is not the friend's

    # --- Sign-out (AuthApiRepository.logout).
    assert app.api("logout", "POST", "/auth/logout").json == {"successful": True, "redirectUri": "/auth/login?autoLaunch=0"}
    assert app.api("getMyUser", "GET", "/users/me").status == 401
