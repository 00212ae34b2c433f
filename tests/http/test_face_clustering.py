"""Facial recognition as a user sees it: detected faces (rows and embeddings as face detection
leaves them) on photos with previews; the admin starts the ``facialRecognition`` queue; the
people list then shows one person per face cluster, each face names its person, and each
person's thumbnail is the real crop of its feature face."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import trio
from PIL import Image

from immich_trio.actors.dispatcher import Dispatcher
from immich_trio.actors.face_recognition import JOBS as RECOGNITION_JOBS
from immich_trio.actors.face_recognition import FacialRecognitionActor
from immich_trio.actors.person_thumbnail import JOBS as THUMBNAIL_JOBS
from immich_trio.actors.person_thumbnail import PersonThumbnailActor
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser
from tests.http.test_people import _face, _photo

Sql = Callable[..., list[tuple[Any, ...]]]
LIMIT = 60
DIM = 512


def _cluster(rng: random.Random, size: int) -> list[str]:
    """``size`` unit embeddings ~0.1 apart around one random direction, as pgvector text."""
    centre = [rng.gauss(0, 1) for _ in range(DIM)]
    out = []
    for _ in range(size):
        v = [c + rng.gauss(0, 0.3) for c in centre]
        norm = math.sqrt(sum(x * x for x in v))
        out.append("[" + ",".join(f"{x / norm:.6f}" for x in v) + "]")
    return out


async def _jobs_left(sql: Sql) -> bool:
    rows = await trio.to_thread.run_sync(
        sql, "SELECT count(*) FROM immich_trio.job WHERE queue IN ('facialRecognition', 'thumbnailGeneration')"
    )
    return rows != [(0,)]


async def test_started_from_the_jobs_page_faces_become_people_with_thumbnails(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, nursery: trio.Nursery
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    alex = await make_user("alex@example.com", name="Alex")
    media = runtime.settings.media_location
    rng = random.Random(11)
    clusters: list[dict[str, str]] = []  # face id -> photo id, per true cluster
    for n, embeddings in enumerate((_cluster(rng, 3), _cluster(rng, 4))):
        faces = {}
        for i, embedding in enumerate(embeddings):
            photo = _photo(sql, alex, media, f"c{n}-{i}.jpg")
            face = _face(sql, photo, None)
            sql('INSERT INTO face_search ("faceId", embedding) VALUES (%s, %s::vector)', (face, embedding))
            faces[face] = photo
        clusters.append(faces)

    dispatcher = Dispatcher(runtime.pool, clock=lambda: datetime.now(UTC), lease=LIMIT, follow_config=False)
    workers = ((FacialRecognitionActor(runtime.pool, now=lambda: datetime.now(UTC)), RECOGNITION_JOBS),
               (PersonThumbnailActor(runtime.pool, media), THUMBNAIL_JOBS))  # fmt: skip
    with trio.fail_after(LIMIT):
        for actor, jobs in workers:
            await nursery.start(actor.run)
            for job in jobs:
                dispatcher.register(job, actor.address)
        await nursery.start(dispatcher.run)

        response = await client.put(
            "/api/jobs/facialRecognition", headers=admin.headers, json={"command": "start", "force": False}
        )
        assert response.status_code == 200, await response.get_json()
        while True:
            if not await _jobs_left(sql):
                break
            await trio.sleep(0.05)

    response = await client.get("/api/people", headers=alex.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["total"], body["hidden"], body["hasNextPage"]) == (2, 0, False)
    found = {}
    for person in body["people"]:
        assert person["name"] == "" and person["thumbnailPath"] != ""
        response = await client.get(f"/api/people/{person['id']}/statistics", headers=alex.headers)
        found[person["id"]] = (await response.get_json())["assets"]
    assert sorted(found.values()) == [3, 4]

    for faces in clusters:
        owners = set()
        for face, photo in faces.items():
            response = await client.get(f"/api/faces?id={photo}", headers=alex.headers)
            assert response.status_code == 200
            [shown] = await response.get_json()
            assert shown["id"] == face
            owners.add(shown["person"]["id"])
        [person_id] = owners  # every face of the cluster names the same person
        response = await client.get(f"/api/people/{person_id}/thumbnail", headers=alex.headers)
        assert response.status_code == 200
        with Image.open(io.BytesIO(await response.get_data())) as thumb:
            assert thumb.format == "JPEG" and thumb.width == thumb.height > 0
            red, green, blue = thumb.convert("RGB").getpixel((thumb.width // 2, thumb.height // 2))
            assert red > 200 and green < 60 and blue < 60  # the red square the face box holds

    # another user sees none of these people
    stranger = await make_user("sam@example.com", name="Sam")
    response = await client.get("/api/people", headers=stranger.headers)
    assert (await response.get_json())["total"] == 0
