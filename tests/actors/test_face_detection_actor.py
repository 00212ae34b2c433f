"""The face-detection actor on a real database and tiny real models, one job at a time as the
dispatcher runs it: what is skipped or failed (and why), and how a re-run matches the faces an
asset already has (boxes scaled between image sizes, a manual face given the embedding)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image
from tiny_faces import MODEL, build_faces, face_image

from immich_trio.actors.dispatcher import JobResult
from immich_trio.actors.face_detection import FaceDetectionActor
from immich_trio.jobs.names import JobName
from immich_trio.ml.face_service import FaceService
from immich_trio.ml.local_faces import LocalFaces
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMIT = 30
FACES = (
    'SELECT id::text, "sourceType"::text, "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1",'
    ' "boundingBoxX2", "boundingBoxY2" FROM asset_face WHERE "assetId" = %s ORDER BY "sourceType", id'
)


def _config(sql: Sql, facial: bool = True) -> None:
    ml = {"enabled": True, "facialRecognition": {"enabled": facial, "modelName": MODEL, "minScore": 0.7}}
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps({"machineLearning": ml}),),
    )


def _asset(sql: Sql, preview: Path | None, *, visibility: str = "timeline") -> str:
    [(owner,)] = sql(
        'INSERT INTO "user" (email, name, password) VALUES (%s, \'A\', \'x\') RETURNING id',
        (f"{uuid.uuid4()}@example.com",),
    )
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt", checksum,'
        ' "checksumAlgorithm", "originalFileName", "localDateTime", visibility)'
        " VALUES (%s, 'IMAGE', '/nowhere/a.jpg', %s, %s, %s, 'sha1', 'a.jpg', %s, %s) RETURNING id",
        (owner, NOW, NOW, uuid.uuid4().bytes[:20], NOW, visibility),
    )
    if preview is not None:
        sql("INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'preview', %s)", (asset_id, str(preview)))
    return str(asset_id)


def _preview(path: Path, size: tuple[int, int] | None = None) -> Path:
    image = Image.fromarray(face_image())
    (image if size is None else image.resize(size, Image.Resampling.NEAREST)).save(path, format="PNG")
    return path


async def _run(pool: Pool, cache: Path, data: dict[str, Any]) -> JobResult:
    """One ``AssetDetectFaces`` as the dispatcher runs it: the answer, then its writes."""
    actor = FaceDetectionActor(pool, FaceService(LocalFaces(cache)), now=lambda: NOW)
    job = Job(id=1, queue="faceDetection", name=JobName.ASSET_DETECT_FACES.value, data=data, attempt=1,
              max_attempts=3, created_at=NOW)  # fmt: skip
    with trio.fail_after(LIMIT):
        result = await actor.run_job(job)
    if result.apply is not None:
        async with pool.connection() as conn, conn.transaction():
            await result.apply(conn)
    return result


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    build_faces(tmp_path / "models")
    return tmp_path / "models"


async def test_what_is_skipped_and_what_fails(pool: Pool, sql: Sql, cache: Path, tmp_path: Path) -> None:
    _config(sql)
    hidden = _asset(sql, _preview(tmp_path / "hidden.png"), visibility="hidden")
    assert (await _run(pool, cache, {"id": hidden})).status == "skipped"
    bare = _asset(sql, None)
    result = await _run(pool, cache, {"id": bare})
    assert (result.status, result.error, result.retry) == ("failed", "asset or its preview not found", False)
    result = await _run(pool, cache, {"id": str(uuid.uuid4())})
    assert (result.status, result.retry) == ("failed", False)
    assert (await _run(pool, cache, {})).error == "job data has no asset id"
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    result = await _run(pool, cache, {"id": _asset(sql, broken)})
    assert result.status == "failed" and "cannot decode the image" in str(result.error)
    gone = _asset(sql, tmp_path / "missing.jpeg")
    result = await _run(pool, cache, {"id": gone})
    assert result.status == "failed" and "missing.jpeg" in str(result.error)
    assert sql("SELECT count(*) FROM asset_face") == [(0,)]
    assert sql('SELECT count(*) FROM asset_job_status WHERE "facesRecognizedAt" IS NOT NULL') == [(0,)]

    _config(sql, facial=False)  # machine learning on, facial recognition off: nothing at all
    visible = _asset(sql, _preview(tmp_path / "face.png"))
    assert (await _run(pool, cache, {"id": visible})).status == "skipped"
    assert sql("SELECT count(*) FROM asset_face") == [(0,)]


async def test_a_face_found_on_a_bigger_preview_is_the_same_face(
    pool: Pool, sql: Sql, cache: Path, tmp_path: Path
) -> None:
    _config(sql)
    asset_id = _asset(sql, _preview(tmp_path / "face.png"))
    # the face as found earlier on a preview twice the size, and a manual face elsewhere
    sql(
        'INSERT INTO asset_face ("assetId", "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1",'
        ' "boundingBoxX2", "boundingBoxY2", "sourceType") VALUES'
        " (%s, 640, 480, 312, 176, 344, 224, 'machine-learning'), (%s, 320, 240, 0, 0, 30, 30, 'manual')",
        (asset_id, asset_id),
    )
    before = sql(FACES, (asset_id,))
    assert (await _run(pool, cache, {"id": asset_id})).status == "success"
    assert sql(FACES, (asset_id,)) == before  # kept as it was: no new face, none removed
    assert sql('SELECT count(*) FROM face_search') == [(0,)]
    assert sql('SELECT "facesRecognizedAt" FROM asset_job_status WHERE "assetId" = %s', (asset_id,)) == [(NOW,)]
    assert sql("SELECT count(*) FROM immich_trio.job WHERE queue = 'facialRecognition'") == [(0,)]


async def test_a_manual_face_where_the_model_finds_one_gets_its_embedding(
    pool: Pool, sql: Sql, cache: Path, tmp_path: Path
) -> None:
    _config(sql)
    asset_id = _asset(sql, _preview(tmp_path / "face.png"))
    [(manual,)] = sql(
        'INSERT INTO asset_face ("assetId", "imageWidth", "imageHeight", "boundingBoxX1", "boundingBoxY1",'
        ' "boundingBoxX2", "boundingBoxY2", "sourceType") VALUES'
        " (%s, 320, 240, 155, 88, 172, 113, 'manual') RETURNING id",
        (asset_id,),
    )
    assert (await _run(pool, cache, {"id": asset_id})).status == "success"
    assert [kind for _, kind, *_ in sql(FACES, (asset_id,))] == ["manual"]
    [(face_id, dims)] = sql('SELECT "faceId", vector_dims(embedding) FROM face_search')
    assert (face_id, dims) == (manual, 512)
    assert sql("SELECT count(*) FROM immich_trio.job WHERE queue = 'facialRecognition'") == [(0,)]
