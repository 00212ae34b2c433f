"""Smart search end to end on tiny real CLIP models: uploads → thumbnails → ``SmartSearch``
jobs → ``smart_search`` rows → ``POST /api/search/smart`` ranks the asset of the query's colour
first; and the job and route with machine learning off, or a model that cannot be had."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from media_harness import (
    LIMIT,
    Server,
    User,
    make_user,
    run_sql,
    serve_with_models,
    wait_for,
)
from PIL import Image
from tiny_clip import MODEL, build_clip

from immich_trio.actors.smart_search import SmartSearchActor
from immich_trio.ml.local import LocalClip
from immich_trio.ml.service import ClipService
from immich_trio.sql.pool import open_pool

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def _png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), rgb).save(out, format="PNG")
    return out.getvalue()


def _save_config(db_url: str, config: dict[str, Any]) -> None:
    run_sql(
        db_url,
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(config),),
    )


def _ml(model: str, *, enabled: bool = True) -> dict[str, Any]:
    # facial recognition and OCR off: this cache holds no face or OCR models (each has its own
    # flow test)
    clip = {"enabled": True, "modelName": model}
    off = {"enabled": False}
    return {"machineLearning": {"enabled": enabled, "clip": clip, "facialRecognition": off, "ocr": off}}


async def _start(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    async for server in serve_with_models(db_url, tmp_path, nursery, build_clip):
        yield server


@pytest.fixture
async def ml_server(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    _save_config(db_url, _ml(MODEL))
    async for server in _start(db_url, tmp_path, nursery):
        yield server


async def _upload(client: httpx.AsyncClient, user: User, name: str, data: bytes) -> str:
    fields = {"deviceAssetId": name, "deviceId": "pytest", "fileCreatedAt": "2024-01-15T10:30:00.000Z",
              "fileModifiedAt": "2024-01-15T10:30:00.000Z"}
    resp = await client.post("/api/assets", headers=user.headers, data=fields,
                             files={"assetData": (f"{name}.png", data, "application/octet-stream")})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def test_text_query_ranks_the_asset_of_its_colour_first(ml_server: Server) -> None:
    server = ml_server
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
        with trio.fail_after(LIMIT):
            ids = {c: await _upload(client, user, c, _png(rgb)) for c, rgb in COLOURS.items()}
        await wait_for(server, "SELECT count(*) FROM smart_search", (), [(3,)])
        dims = await server.asql("SELECT DISTINCT vector_dims(embedding) FROM smart_search")
        assert dims == [(512,)]

        for colour, asset_id in ids.items():
            resp = await client.post("/api/search/smart", headers=user.headers, json={"query": colour})
            assert resp.status_code == 200, resp.text
            assets = resp.json()["assets"]
            assert assets["items"][0]["id"] == asset_id
            assert assets["count"] == 3 and assets["nextPage"] is None
            assert resp.json()["albums"] == {"total": 0, "count": 0, "items": [], "facets": []}

        # paging: one per page, the next page named
        resp = await client.post("/api/search/smart", headers=user.headers, json={"query": "red", "size": 1})
        assert [a["id"] for a in resp.json()["assets"]["items"]] == [ids["red"]]
        assert resp.json()["assets"]["nextPage"] == "2"
        resp = await client.post("/api/search/smart", headers=user.headers,
                                 json={"query": "red", "size": 2, "page": 2})
        assert resp.json()["assets"]["count"] == 1 and resp.json()["assets"]["nextPage"] is None

        # by a stored embedding: the asset itself is nearest
        resp = await client.post("/api/search/smart", headers=user.headers, json={"queryAssetId": ids["blue"]})
        assert resp.json()["assets"]["items"][0]["id"] == ids["blue"]

        # filters apply in the same query: favourites only
        await server.asql('UPDATE asset SET "isFavorite" = true WHERE id = %s', (ids["green"],))
        resp = await client.post("/api/search/smart", headers=user.headers, json={"query": "red", "isFavorite": True})
        assert [a["id"] for a in resp.json()["assets"]["items"]] == [ids["green"]]

        # another user sees none of them
        other = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
        resp = await client.post("/api/search/smart", headers=other.headers, json={"query": "red"})
        assert resp.json()["assets"]["items"] == []

        resp = await client.post("/api/search/smart", headers=user.headers, json={})
        assert resp.status_code == 400
        assert resp.json()["message"] == "Either `query` or `queryAssetId` must be set"

        jobs = (await client.get("/api/jobs", headers=_admin(server).headers)).json()
        assert "smartSearch" in jobs


def _admin(server: Server) -> User:
    return make_user(server.db_url, "admin@example.com", is_admin=True)


async def test_disabled_clip_skips_the_job_and_refuses_the_search(
    db_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    _save_config(db_url, _ml(MODEL, enabled=False))
    async for server in _start(db_url, tmp_path, nursery):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            resp = await client.post("/api/search/smart", headers=user.headers, json={"query": "red"})
            assert resp.status_code == 400
            assert resp.json()["message"] == "Smart search is not enabled"
            with trio.fail_after(LIMIT):
                await _upload(client, user, "red", _png(COLOURS["red"]))
        await wait_for(server, "SELECT count(*) FROM asset_file WHERE type = 'preview'", (), [(1,)])
        await wait_for(server, "SELECT count(*) FROM immich_trio.job WHERE queue = 'smartSearch'", (), [(0,)])
        assert await server.asql("SELECT count(*) FROM smart_search") == [(0,)]


async def test_a_missing_model_fails_the_job_and_the_actor_stays_up(
    db_url: str, tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # no network on these machines anyway
    _save_config(db_url, _ml("ViT-B-32__openai"))
    async for server in _start(db_url, tmp_path, nursery):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                await _upload(client, user, "red", _png(COLOURS["red"]))
        query = "SELECT error IS NOT NULL FROM immich_trio.job WHERE queue = 'smartSearch'"
        await wait_for(server, query, (), [(True,)])  # failed, maybe waiting to retry
        [(error,)] = await server.asql("SELECT error FROM immich_trio.job WHERE queue = 'smartSearch'")
        assert "ViT-B-32__openai" in error and "could not be downloaded" in error
        snapshot = json.dumps(server.runtime.status() if server.runtime.status else {})
        assert "smart-search" in snapshot


async def test_an_embedding_of_the_wrong_size_fails_the_job(db_url: str, tmp_path: Path) -> None:
    async with open_pool(db_url) as pool:
        actor = SmartSearchActor(pool, ClipService(LocalClip(tmp_path)))
        with trio.fail_after(LIMIT):
            assert await actor._check_embedding("[" + ",".join(["0.1"] * 512) + "]") is None
            assert await actor._check_embedding("[0.1,0.2]") == "the embedding has 2 dimensions, smart_search holds 512"
            assert await actor._check_embedding("[0.1,NaN]") is not None
            assert await actor._check_embedding("nonsense") == "the embedding is not a list of numbers"
