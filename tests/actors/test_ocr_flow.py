"""OCR end to end on a real PP-OCR model: an upload with printed words → thumbnails → the
``Ocr`` job → ``asset_ocr`` rows and the search text → ``GET /api/assets/{id}/ocr`` answers the
words with boxes where they were drawn, and ``POST /api/search/metadata`` with ``ocr`` finds the
asset; ``OcrQueueAll`` with and without force; OCR off; a model that cannot be had."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
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
from ocr_models import MODEL, WORDS, drawn_box, install_ocr_model, text_image

FIELDS = {"deviceId": "pytest", "fileCreatedAt": "2024-01-15T10:30:00.000Z", "fileModifiedAt": "2024-01-15T10:30:00.000Z"}
DONE = "SELECT count(*) FROM immich_trio.job WHERE queue = 'ocr'"


def _ml(model: str, *, ocr: bool = True) -> dict[str, Any]:
    # CLIP and faces off: this test's cache holds no CLIP or face model, and their jobs are not under test
    off = {"enabled": False}
    ocr_config = {"enabled": ocr, "modelName": model}
    return {"machineLearning": {"enabled": True, "clip": off, "facialRecognition": off, "ocr": ocr_config}}


async def _start(db_url: str, tmp_path: Path, nursery: trio.Nursery, config: dict[str, Any]) -> AsyncIterator[Server]:
    run_sql(
        db_url,
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps(config),),
    )
    async for server in serve_with_models(db_url, tmp_path, nursery, install_ocr_model):
        yield server


async def _upload(client: httpx.AsyncClient, user: User, name: str, data: bytes) -> str:
    resp = await client.post("/api/assets", headers=user.headers, data={"deviceAssetId": name, **FIELDS},
                             files={"assetData": (f"{name}.png", data, "application/octet-stream")})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _search(client: httpx.AsyncClient, user: User, ocr: str) -> list[str]:
    resp = await client.post("/api/search/metadata", headers=user.headers, json={"ocr": ocr})
    assert resp.status_code == 200, resp.text
    return [a["id"] for a in resp.json()["assets"]["items"]]


async def test_printed_words_are_found_and_searchable(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> None:
    async for server in _start(db_url, tmp_path, nursery, _ml(MODEL)):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        admin = await trio.to_thread.run_sync(partial(make_user, server.db_url, "admin@example.com", is_admin=True))
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                words = await _upload(client, user, "words", text_image())
                blank = await _upload(client, user, "blank", text_image(()))
            await wait_for(server, 'SELECT count(*) FROM asset_job_status WHERE "ocrAt" IS NOT NULL', (), [(2,)])

            resp = await client.get(f"/api/assets/{words}/ocr", headers=user.headers)
            assert resp.status_code == 200, resp.text
            boxes = resp.json()
            assert [b["text"] for b in boxes] == [text for text, _ in WORDS]
            for box, (text, corner) in zip(boxes, WORDS, strict=True):
                assert box["assetId"] == words and 0.8 < box["textScore"] <= 1 and 0.5 <= box["boxScore"] <= 1
                left, top, right, bottom = drawn_box(text, corner)
                assert abs(box["x1"] - left) < 0.03 and abs(box["x2"] - right) < 0.03
                assert abs(box["y1"] - top) < 0.04 and abs(box["y4"] - bottom) < 0.04
            assert (await client.get(f"/api/assets/{blank}/ocr", headers=user.headers)).json() == []
            assert await server.asql('SELECT "assetId"::text, text FROM ocr_search') == [(words, "HELLO WORLD Invoice 42")]

            assert await _search(client, user, "invoice") == [words]
            assert await _search(client, user, "Hello world") == [words]
            assert await _search(client, user, "zebra") == []
            other = await trio.to_thread.run_sync(make_user, server.db_url, "other@example.com")
            assert await _search(client, other, "invoice") == []

            # OcrQueueAll without force: everything is read, nothing is queued
            resp = await client.put("/api/jobs/ocr", headers=admin.headers, json={"command": "start", "force": False})
            assert resp.status_code == 200, resp.text
            await wait_for(server, DONE, (), [(0,)])
            [(first_ids,)] = await server.asql("SELECT array_agg(id::text ORDER BY text) FROM asset_ocr")
            # with force: every result is dropped and read again (new rows, same words)
            resp = await client.put("/api/jobs/ocr", headers=admin.headers, json={"command": "start", "force": True})
            assert resp.status_code == 200, resp.text
            await wait_for(
                server, "SELECT count(*) FROM asset_ocr WHERE NOT id = ANY(%s::uuid[])", (first_ids,), [(2,)]
            )
            await wait_for(server, DONE, (), [(0,)])
            assert await _search(client, user, "invoice") == [words]
            await _crop_and_uncrop(server, client, user, words)


HIDDEN = 'SELECT count(*) FROM asset_ocr WHERE NOT "isVisible"'
CROP = {"x": 160, "y": 180, "width": 480, "height": 180}  # the lower right: "Invoice 42" only


async def _crop_and_uncrop(server: Server, client: httpx.AsyncClient, user: User, asset_id: str) -> None:
    """A crop hides the words it cuts from the boxes and the search; removing it shows them."""
    edits = {"edits": [{"action": "crop", "parameters": CROP}]}
    resp = await client.put(f"/api/assets/{asset_id}/edits", headers=user.headers, json=edits)
    assert resp.status_code == 200, resp.text
    await wait_for(server, HIDDEN, (), [(1,)])
    resp = await client.get(f"/api/assets/{asset_id}/ocr", headers=user.headers)
    assert resp.status_code == 200, resp.text
    [box] = resp.json()
    assert box["text"] == "Invoice 42"
    text, (x, y) = WORDS[1]
    left, top, _, _ = drawn_box(text, (x - CROP["x"], y - CROP["y"]))  # on the cropped image, 480 x 180
    assert abs(box["x1"] - left * 640 / 480) < 0.04 and abs(box["y1"] - top * 360 / 180) < 0.08
    assert await _search(client, user, "hello world") == []
    assert await _search(client, user, "invoice") == [asset_id]
    resp = await client.delete(f"/api/assets/{asset_id}/edits", headers=user.headers)
    assert resp.status_code == 204, resp.text
    await wait_for(server, HIDDEN, (), [(0,)])
    assert [b["text"] for b in (await client.get(f"/api/assets/{asset_id}/ocr", headers=user.headers)).json()] == [
        text for text, _ in WORDS
    ]
    assert await _search(client, user, "hello world") == [asset_id]


async def test_ocr_off_queues_nothing_and_the_queue_command_skips(
    db_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    async for server in _start(db_url, tmp_path, nursery, _ml(MODEL, ocr=False)):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        admin = await trio.to_thread.run_sync(partial(make_user, server.db_url, "admin@example.com", is_admin=True))
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                await _upload(client, user, "words", text_image())
            await wait_for(server, "SELECT count(*) FROM asset_file WHERE type = 'preview'", (), [(1,)])
            resp = await client.put("/api/jobs/ocr", headers=admin.headers, json={"command": "start", "force": True})
            assert resp.status_code == 200, resp.text
            await wait_for(server, DONE, (), [(0,)])
        assert await server.asql("SELECT count(*) FROM asset_ocr") == [(0,)]
        assert await server.asql('SELECT count(*) FROM asset_job_status WHERE "ocrAt" IS NOT NULL') == [(0,)]


async def test_a_missing_model_fails_the_job_and_the_actor_stays_up(
    db_url: str, tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCR_MODEL_ENDPOINT", "http://127.0.0.1:9")  # no network on these machines anyway
    async for server in _start(db_url, tmp_path, nursery, _ml("PP-OCRv5_mobile")):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        admin = await trio.to_thread.run_sync(partial(make_user, server.db_url, "admin@example.com", is_admin=True))
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                words = await _upload(client, user, "words", text_image())
            await wait_for(server, "SELECT error IS NOT NULL FROM immich_trio.job WHERE queue = 'ocr'", (), [(True,)])
            [(error,)] = await server.asql("SELECT error FROM immich_trio.job WHERE queue = 'ocr'")
            assert "PP-OCRv5_mobile" in error and "could not be downloaded" in error
            assert await server.asql("SELECT count(*) FROM asset_ocr") == [(0,)]
            snapshot = json.dumps(server.runtime.status() if server.runtime.status else {})
            assert '"ocr"' in snapshot
            # the model put in place, the same actor reads the asset on the next run
            install_ocr_model(tmp_path / "models", "PP-OCRv5_mobile")
            resp = await client.put("/api/jobs/ocr", headers=admin.headers, json={"command": "start", "force": False})
            assert resp.status_code == 200, resp.text
            await wait_for(server, 'SELECT count(*) FROM asset_job_status WHERE "ocrAt" IS NOT NULL', (), [(1,)])
            assert await _search(client, user, "invoice") == [words]
