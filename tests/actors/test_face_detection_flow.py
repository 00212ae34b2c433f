"""Face detection end to end on tiny real models: upload → thumbnails → ``AssetDetectFaces`` on
the preview → ``asset_face`` rows and ``face_search`` embeddings → ``GET /api/faces``; the
re-run that keeps the same face, drops vanished machine-learning faces and keeps manual ones;
``AssetDetectFacesQueueAll`` with and without force; ML off; a broken model; and the same
through Immich's ``/predict`` served by the test."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import trio
from fake_ml import free_port, serve_app
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
from quart import request
from quart_trio import QuartTrio
from tiny_faces import EXPECTED_BOX, MODEL, build_faces, face_image, reference_embedding

from immich_trio.ml.faces import decode_bgr

FACES = 'SELECT id::text, "sourceType"::text FROM asset_face WHERE "assetId" = %s ORDER BY "sourceType", id'
JOBS = "SELECT name, data FROM immich_trio.job WHERE queue = %s ORDER BY id"


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _config(db_url: str, *, enabled: bool = True, urls: list[str] | None = None, model: str = MODEL) -> None:
    ml: dict[str, Any] = {
        "enabled": enabled,
        "clip": {"enabled": False},
        "ocr": {"enabled": False},  # its requests and model are not under test here
        "facialRecognition": {"enabled": True, "modelName": model, "minScore": 0.7},
    }
    if urls is not None:
        ml["urls"] = urls
        ml["availabilityChecks"] = {"enabled": False}
    run_sql(
        db_url,
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps({"machineLearning": ml}),),
    )


async def _start(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Server]:
    async for server in serve_with_models(db_url, tmp_path, nursery, build_faces):
        yield server


async def _upload(client: httpx.AsyncClient, user: User, data: bytes) -> str:
    fields = {"deviceAssetId": "face", "deviceId": "pytest", "fileCreatedAt": "2024-01-15T10:30:00.000Z",
              "fileModifiedAt": "2024-01-15T10:30:00.000Z"}
    resp = await client.post("/api/assets", headers=user.headers, data=fields,
                             files={"assetData": ("face.png", data, "application/octet-stream")})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _preview(server: Server, asset_id: str) -> Path:
    [(path,)] = await server.asql(
        "SELECT path FROM asset_file WHERE \"assetId\" = %s AND type = 'preview'", (asset_id,)
    )
    return Path(path)


async def _embedding(server: Server, face_id: str) -> np.ndarray:
    [(text,)] = await server.asql('SELECT embedding::text FROM face_search WHERE "faceId" = %s', (face_id,))
    return np.array(json.loads(text), dtype=np.float32)


async def _detect_again(server: Server, asset_id: str) -> None:
    await server.asql(
        "INSERT INTO immich_trio.job (queue, name, data, \"assetId\") VALUES"
        " ('faceDetection', 'AssetDetectFaces', jsonb_build_object('id', %s::text), %s)",
        (asset_id, asset_id),
    )
    server.dispatcher.wake("faceDetection")
    await wait_for(server, "SELECT count(*) FROM immich_trio.job WHERE queue = 'faceDetection'", (), [(0,)])


async def test_faces_of_an_upload_then_re_runs(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> None:
    _config(db_url)
    async for server in _start(db_url, tmp_path, nursery):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        admin = await trio.to_thread.run_sync(partial(make_user, server.db_url, "admin@example.com", is_admin=True))
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            # clustering paused, so that the jobs detection queues stay to be seen
            pause = {"command": "pause"}
            resp = await client.put("/api/jobs/facialRecognition", json=pause, headers=admin.headers)
            assert resp.status_code == 200, resp.text
            with trio.fail_after(LIMIT):
                asset_id = await _upload(client, user, _png(face_image()))
            await wait_for(server, 'SELECT count(*) FROM asset_face WHERE "assetId" = %s', (asset_id,), [(1,)])
            preview = await _preview(server, asset_id)
            with Image.open(preview) as image:
                assert (image.format, image.size) == ("JPEG", (320, 240))

            resp = await client.get("/api/faces", params={"id": asset_id}, headers=user.headers)
            assert resp.status_code == 200, resp.text
            [face] = resp.json()
            assert {k: v for k, v in face.items() if k != "id"} == {
                "boundingBoxX1": 156, "boundingBoxY1": 88, "boundingBoxX2": 172, "boundingBoxY2": 112,
                "imageWidth": 320, "imageHeight": 240, "person": None, "sourceType": "machine-learning",
            }
            assert tuple(float(face[k]) for k in ("boundingBoxX1", "boundingBoxY1", "boundingBoxX2", "boundingBoxY2")) \
                == EXPECTED_BOX
            # the stored embedding is the recognizer's on the face aligned in the preview as decoded
            expected = reference_embedding(decode_bgr(preview.read_bytes()))
            np.testing.assert_allclose(await _embedding(server, face["id"]), expected, atol=1e-5)
            [(recognized,)] = await server.asql(
                'SELECT "facesRecognizedAt" IS NOT NULL FROM asset_job_status WHERE "assetId" = %s', (asset_id,)
            )
            assert recognized
            jobs = await server.asql(JOBS, ("facialRecognition",))
            assert ("FacialRecognition", {"id": face["id"]}) in jobs

            # a re-run keeps the face it finds again, drops a machine-learning face it no longer
            # finds, and leaves a manual face alone
            await server.asql(
                'INSERT INTO asset_face ("assetId", "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1",'
                ' "boundingBoxX2", "boundingBoxY2", "sourceType") VALUES'
                " (%s, 320, 240, 10, 10, 40, 40, 'machine-learning'), (%s, 640, 480, 0, 300, 60, 400, 'manual')",
                (asset_id, asset_id),
            )
            await _detect_again(server, asset_id)
            rows = await server.asql(FACES, (asset_id,))
            assert [kind for _, kind in rows] == ["machine-learning", "manual"]
            assert rows[0][0] == face["id"]

            # start without force: nothing is missing, nothing runs; with force: faces anew
            start = {"command": "start", "force": False}
            resp = await client.put("/api/jobs/faceDetection", json=start, headers=admin.headers)
            assert resp.status_code == 200, resp.text
            await wait_for(server, "SELECT count(*) FROM immich_trio.job WHERE queue = 'faceDetection'", (), [(0,)])
            assert await server.asql(FACES, (asset_id,)) == rows
            resp = await client.put("/api/jobs/faceDetection", json={**start, "force": True}, headers=admin.headers)
            assert resp.status_code == 200, resp.text
            query = 'SELECT count(*) FROM asset_face WHERE "assetId" = %s AND id <> %s'
            await wait_for(server, query, (asset_id, face["id"]), [(2,)])
            await wait_for(server, "SELECT count(*) FROM immich_trio.job WHERE queue = 'faceDetection'", (), [(0,)])
            after = await server.asql(FACES, (asset_id,))
            assert [kind for _, kind in after] == ["machine-learning", "manual"]
            assert after[1] == rows[1]


async def test_machine_learning_off_queues_nothing(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> None:
    _config(db_url, enabled=False)
    async for server in _start(db_url, tmp_path, nursery):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                asset_id = await _upload(client, user, _png(face_image()))
        await wait_for(server, "SELECT count(*) FROM asset_file WHERE type = 'preview'", (), [(1,)])
        await _detect_again(server, asset_id)  # queued anyway: skipped, as Immich's
        assert await server.asql(FACES, (asset_id,)) == []
        assert await server.asql('SELECT "facesRecognizedAt" FROM asset_job_status WHERE "assetId" = %s',
                                 (asset_id,)) in ([], [(None,)])


async def test_a_corrupt_model_fails_the_job_and_the_actor_stays_up(
    db_url: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    _config(db_url)
    async for server in _start(db_url, tmp_path, nursery):
        (tmp_path / "models" / "facial-recognition" / MODEL / "recognition" / "model.onnx").write_bytes(b"junk")
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                asset_id = await _upload(client, user, _png(face_image()))
        query = "SELECT error IS NOT NULL FROM immich_trio.job WHERE queue = 'faceDetection'"
        await wait_for(server, query, (), [(True,)])  # failed, maybe waiting to retry
        [(error,)] = await server.asql("SELECT error FROM immich_trio.job WHERE queue = 'faceDetection'")
        assert "cannot load" in error and "recognition" in error
        assert await server.asql(FACES, (asset_id,)) == []
        snapshot = json.dumps(server.runtime.status() if server.runtime.status else {})
        assert "face-detection" in snapshot and '"failed": 1' in snapshot.replace('"failed":1', '"failed": 1')


async def _fake_ml(port: int, seen: list[dict[str, Any]], *, task_status: trio.TaskStatus[None]) -> None:
    app = QuartTrio("fake-ml")
    embedding = [0.0] * 512
    embedding[7] = 1.0

    @app.post("/predict")
    async def predict() -> Any:
        form = await request.form
        files = await request.files
        seen.append({"entries": json.loads(form["entries"]), "size": len(files["image"].read())})
        face = {"boundingBox": {"x1": 100.0, "y1": 50.0, "x2": 140.0, "y2": 100.0},
                "embedding": json.dumps(embedding), "score": 0.91}
        return {"facial-recognition": [face], "imageHeight": 240, "imageWidth": 320}

    await serve_app(app, port, task_status=task_status)


async def test_through_immichs_predict(db_url: str, tmp_path: Path, nursery: trio.Nursery) -> None:
    seen: list[dict[str, Any]] = []
    port = free_port()
    await nursery.start(_fake_ml, port, seen)
    _config(db_url, urls=[f"http://127.0.0.1:{port}"], model="buffalo_l")
    async for server in _start(db_url, tmp_path, nursery):
        user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
        async with httpx.AsyncClient(base_url=server.base, timeout=LIMIT) as client:
            with trio.fail_after(LIMIT):
                asset_id = await _upload(client, user, _png(face_image()))
            await wait_for(server, 'SELECT count(*) FROM asset_face WHERE "assetId" = %s', (asset_id,), [(1,)])
            [face] = (await client.get("/api/faces", params={"id": asset_id}, headers=user.headers)).json()
        assert (face["boundingBoxX1"], face["boundingBoxY1"], face["boundingBoxX2"], face["boundingBoxY2"]) \
            == (100, 50, 140, 100)
        assert (face["imageWidth"], face["imageHeight"]) == (320, 240)
        stored = await _embedding(server, face["id"])
        assert stored[7] == 1.0 and float(np.abs(stored).sum()) == 1.0
        preview = await _preview(server, asset_id)
        assert seen == [{
            "entries": {"facial-recognition": {"detection": {"modelName": "buffalo_l", "options": {"minScore": 0.7}},
                                               "recognition": {"modelName": "buffalo_l"}}},
            "size": preview.stat().st_size,
        }]
