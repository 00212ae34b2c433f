"""Duplicate detection end to end on tiny real CLIP models: uploads → thumbnails →
``SmartSearch`` → ``AssetDetectDuplicates`` → ``GET /api/duplicates`` groups the near-identical
uploads and leaves the different one alone; turned off in the config, no group is made."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from media_harness import LIMIT, Server, User, make_user, wait_for
from PIL import Image
from test_smart_search_flow import _ml, _save_config, _start, _upload
from tiny_clip import MODEL

MAX_DISTANCE = 0.01
"""Immich's default ``maxDistance``."""


def _png(rgb: tuple[int, int, int], *, dot: tuple[int, int] | None = None) -> bytes:
    """A flat image, with one pixel of another shade at ``dot``: near-identical, not identical
    (an identical file would be refused as a duplicate upload by its checksum)."""
    image = Image.new("RGB", (64, 48), rgb)
    if dot is not None:
        image.putpixel(dot, tuple(min(255, c + 40) for c in rgb))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


RED = (200, 30, 30)
BLUE = (20, 40, 220)


def _config(*, duplicates: bool) -> dict[str, Any]:
    config = _ml(MODEL)
    config["machineLearning"]["duplicateDetection"] = {"enabled": duplicates, "maxDistance": MAX_DISTANCE}
    return config


@pytest.fixture
async def dup_server(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    _save_config(db_url, _config(duplicates=True))
    async for server in _start(db_url, tmp_path, nursery):
        yield server


async def _wait_idle(server: Server, embeddings: int) -> None:
    """Every upload embedded, and no job of any queue left (detection follows the embedding)."""
    await wait_for(server, "SELECT count(*) FROM smart_search", (), [(embeddings,)])
    await wait_for(server, "SELECT count(*) FROM immich_trio.job", (), [(0,)])


async def _groups(client: httpx.AsyncClient, user: User) -> list[tuple[str, set[str]]]:
    resp = await client.get("/api/duplicates", headers=user.headers)
    assert resp.status_code == 200, resp.text
    return [(g["duplicateId"], {a["id"] for a in g["assets"]}) for g in resp.json()]


async def _duplicate_id(client: httpx.AsyncClient, user: User, asset_id: str) -> Any:
    resp = await client.get(f"/api/assets/{asset_id}", headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["duplicateId"]


async def test_near_identical_uploads_share_one_group(dup_server: Server) -> None:
    server = dup_server
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    admin = await trio.to_thread.run_sync(partial(make_user, server.db_url, "admin@example.com", is_admin=True))
    async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
        with trio.fail_after(LIMIT):
            first = await _upload(client, user, "red-1", _png(RED))
            second = await _upload(client, user, "red-2", _png(RED, dot=(3, 3)))
            other = await _upload(client, user, "blue", _png(BLUE))
        await _wait_idle(server, 3)

        [(group_id, members)] = await _groups(client, user)
        assert members == {first, second}
        assert await _duplicate_id(client, user, first) == group_id
        assert await _duplicate_id(client, user, other) is None

        # a third near-identical upload joins the same group
        with trio.fail_after(LIMIT):
            third = await _upload(client, user, "red-3", _png(RED, dot=(40, 20)))
        await _wait_idle(server, 4)
        assert await _groups(client, user) == [(group_id, {first, second, third})]

        # another user sees no group of these
        stranger = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
        assert await _groups(client, stranger) == []

        # turned off: a new near-identical upload is embedded but joins no group
        resp = await client.get("/api/system-config", headers=admin.headers)
        assert resp.status_code == 200, resp.text
        config = resp.json()
        config["machineLearning"]["duplicateDetection"]["enabled"] = False
        resp = await client.put("/api/system-config", headers=admin.headers, json=config)
        assert resp.status_code == 200, resp.text
        with trio.fail_after(LIMIT):
            fourth = await _upload(client, user, "red-4", _png(RED, dot=(60, 40)))
        await _wait_idle(server, 5)
        assert await _duplicate_id(client, user, fourth) is None
        assert await _groups(client, user) == [(group_id, {first, second, third})]
