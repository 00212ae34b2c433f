"""Workflows run on their triggers, through the whole server: an upload (``AssetCreate``) and its
metadata extraction (``AssetMetadataExtraction``) queue the owner's workflows, the runner applies
the core plugin's filters and actions, and a client reads the result through ``/api/assets`` and
``/api/albums``."""

from __future__ import annotations

import io
from typing import Any

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, wait_for
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

    with trio.fail_after(LIMIT):
        shot = await upload(server, alex, tiny_jpeg(), "screenshot_2024.jpg")
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
        await wait_for(server, ALL_JOBS, (), [])
    [again] = await api(server, alex, "GET", "/api/albums")
    assert (again["id"], again["assetCount"]) == (album["id"], 2)
    assert [a["id"] for a in await api(server, alex, "GET", f"/api/albums?assetId={second}")] == [album["id"]]
    # the regex is case-insensitive by default, as Immich's filter is
    assert (await api(server, alex, "GET", f"/api/assets/{second}"))["isFavorite"] is True


async def test_a_step_this_server_cannot_run_fails_its_job_and_changes_nothing(server: Server) -> None:
    alex = await trio.to_thread.run_sync(make_user, server.db_url, "alex@example.com")
    await api(server, alex, "POST", "/api/workflows", {
        "trigger": "AssetCreate",
        "steps": [
            {"method": f"{CORE}#assetArchive", "config": {}},
            {"method": f"{CORE}#webhook", "config": {"url": "http://127.0.0.1:9/hook"}},
        ],
    })
    with trio.fail_after(LIMIT):
        shot = await upload(server, alex, tiny_jpeg(), "any.jpg")
        await wait_for(
            server, ALL_JOBS, (),
            [("WorkflowAssetTrigger", "failed", f"Method {CORE}#webhook is not implemented by this server")],
        )
    assert (await api(server, alex, "GET", f"/api/assets/{shot}"))["visibility"] == "timeline"
