"""Workflows run on their triggers, through the whole server: an upload (``AssetCreate``) and its
metadata extraction (``AssetMetadataExtraction``) queue the owner's workflows, the runner applies
the core plugin's filters and actions, and a client reads the result through ``/api/assets`` and
``/api/albums``."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, next_event, wait_for
from PIL import Image

from tests.actors.test_pipeline_flow import upload

CORE = "immich-plugin-core"
ALL_JOBS = "SELECT name, status, error FROM immich_trio.job"


def tiny_jpeg(shade: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 60 * shade)).save(out, "JPEG")
    return out.getvalue()


async def api(server: Server, user: User, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        response = await client.request(method, path, headers=user.headers, json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_uploads_named_screenshot_are_archived_favourited_and_filed(server: Server) -> None:
    alex = await trio.to_thread.run_sync(make_user, server.db_url, "alex@example.com")
    sam = await trio.to_thread.run_sync(make_user, server.db_url, "sam@example.com")
    screenshots = await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetCreate",
        "name": "Screenshots",
        "steps": [
            {"method": f"{CORE}#assetFileFilter", "config": {"pattern": "SCREENSHOT", "matchType": "contains"}},
            {"method": f"{CORE}#assetArchive", "config": {}},
            {"method": f"{CORE}#assetAddToAlbums", "config": {"albumIds": [], "albumName": "Screenshots"}},
        ],
    })
    await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetMetadataExtraction",
        "steps": [
            {"method": f"{CORE}#assetTypeFilter", "config": {"allowedTypes": ["IMAGE"]}},
            {"method": f"{CORE}#assetFileFilter", "config": {"pattern": r"^screenshot_\d+", "matchType": "regex"}},
            {"method": f"{CORE}#assetFavorite", "config": {}},
        ],
    })
    # a disabled workflow and another user's workflow never run on alex's uploads
    await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetCreate", "enabled": False,
        "steps": [{"method": f"{CORE}#assetLock", "config": {}}],
    })
    await api(server, sam, "POST", "/api/workflows", {
        "trigger": "AssetCreate", "steps": [{"method": f"{CORE}#assetLock", "config": {}}],
    })

    sub = server.hub.attach(user_id=alex.id, session_id=None)
    with trio.fail_after(LIMIT):
        shot = await upload(server, alex, tiny_jpeg(), "screenshot_2024.jpg")
        # the archive tells the owner's sockets, with the asset as it is now
        [updated] = await next_event(sub, "on_asset_update")
        assert (updated["id"], updated["visibility"]) == (shot, "archive")
        other = await upload(server, alex, tiny_jpeg(1), "holiday.jpg")
        await wait_for(server, ALL_JOBS, (), [])

    asset = await api(server, alex, "GET", f"/api/assets/{shot}")
    assert (asset["visibility"], asset["isArchived"], asset["isFavorite"]) == ("archive", True, True)
    untouched = await api(server, alex, "GET", f"/api/assets/{other}")
    assert (untouched["visibility"], untouched["isFavorite"]) == ("timeline", False)

    [album] = await api(server, alex, "GET", "/api/albums")
    assert (album["albumName"], album["assetCount"], album["albumThumbnailAssetId"]) == ("Screenshots", 1, shot)
    assert [a["id"] for a in await api(server, alex, "GET", f"/api/albums?assetId={shot}")] == [album["id"]]
    assert await api(server, alex, "GET", f"/api/albums?assetId={other}") == []
    # the step keeps the album it made, so the next screenshot goes to the same album
    stored = await api(server, alex, "GET", f"/api/workflows/{screenshots['id']}")
    assert stored["steps"][2]["config"] == {"albumIds": [album["id"]], "albumName": "Screenshots"}

    with trio.fail_after(LIMIT):
        second = await upload(server, alex, tiny_jpeg(2), "Screenshot_2025.jpg")
        # adding to the existing album tells its members
        assert await next_event(sub, "on_album_update") == [album["id"]]
        await wait_for(server, ALL_JOBS, (), [])
    [again] = await api(server, alex, "GET", "/api/albums")
    assert (again["id"], again["assetCount"]) == (album["id"], 2)
    assert [a["id"] for a in await api(server, alex, "GET", f"/api/albums?assetId={second}")] == [album["id"]]
    # the regex is case-insensitive by default, as Immich's filter is
    assert (await api(server, alex, "GET", f"/api/assets/{second}"))["isFavorite"] is True


async def receive_one_request(listener: trio.SocketListener, got: list[bytes]) -> None:
    """A one-shot HTTP receiver: keeps the request's bytes, answers 204."""
    stream = await listener.accept()
    async with stream:
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
        got.append(data)
        await stream.send_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def test_a_webhook_step_posts_the_asset_after_the_earlier_steps(server: Server, nursery: trio.Nursery) -> None:
    alex = await trio.to_thread.run_sync(make_user, server.db_url, "alex@example.com")
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    got: list[bytes] = []
    await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetCreate",
        "steps": [
            {"method": f"{CORE}#assetFavorite", "config": {}},
            {"method": f"{CORE}#webhook", "config": {
                "url": f"http://127.0.0.1:{port}/hook", "headerName": "X-Secret", "headerValue": "s3"}},
        ],
    })
    with trio.fail_after(LIMIT):
        async with listener:
            nursery.start_soon(receive_one_request, listener, got)
            shot = await upload(server, alex, tiny_jpeg(), "any.jpg")
            await wait_for(server, ALL_JOBS, (), [])
    [request] = got
    head, body = request.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /hook HTTP/1.1") and b"x-secret: s3" in head.lower()
    sent = json.loads(body)
    assert (sent["type"], sent["trigger"]) == ("AssetV1", "AssetCreate")
    assert sent["data"]["asset"]["id"] == shot and sent["data"]["asset"]["isFavorite"] is True
    assert sent["data"]["asset"]["originalFileName"] == "any.jpg"
    assert (await api(server, alex, "GET", f"/api/assets/{shot}"))["isFavorite"] is True


async def test_an_undeliverable_webhook_fails_the_job_and_changes_nothing(server: Server) -> None:
    alex = await trio.to_thread.run_sync(make_user, server.db_url, "alex@example.com")
    [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    await listener.aclose()  # nobody listens there any more
    await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetCreate",
        "steps": [
            {"method": f"{CORE}#assetArchive", "config": {}},
            {"method": f"{CORE}#webhook", "config": {"url": f"http://127.0.0.1:{port}/hook"}},
        ],
    })
    with trio.fail_after(LIMIT):
        shot = await upload(server, alex, tiny_jpeg(), "any.jpg")
        await wait_for(server, "SELECT name, attempts > 0 FROM immich_trio.job WHERE starts_with(error, 'Webhook')", (),
                       [("WorkflowAssetTrigger", True)])
    assert (await api(server, alex, "GET", f"/api/assets/{shot}"))["visibility"] == "timeline"
