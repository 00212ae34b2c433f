"""People and faces: list, get, create, update, merge, reassign, statistics, thumbnail (the
real face crop written by the ``PersonGenerateThumbnail`` job), deletes, person search, faces."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from immich_trio.actors.person_thumbnail import PersonThumbnailActor, face_crop
from immich_trio.runtime import Runtime
from immich_trio.sql.jobs import Job
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]
MISSING_ID = "00000000-0000-4000-8000-000000000000"
PERSON_KEYS = ["id", "name", "birthDate", "thumbnailPath", "isHidden", "isFavorite", "updatedAt"]


def _photo(sql: Sql, user: UserCreds, media: Path, name: str) -> str:
    """An asset whose 1000x800 preview is grey with a red square at (600..800, 200..400)."""
    asset_id = _asset(sql, user.id, media, name, "IMAGE")
    image = Image.new("RGB", (1000, 800), (128, 128, 128))
    image.paste((255, 0, 0), (600, 200, 800, 400))
    preview = media / "thumbs" / f"{asset_id}_preview.jpeg"
    image.save(preview, "JPEG", quality=95)
    sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (asset_id, "preview", str(preview)))
    return asset_id


def _face(sql: Sql, asset_id: str, person_id: str | None, box: tuple[int, int, int, int] = (600, 200, 800, 400)) -> str:
    [(face_id,)] = sql(
        'INSERT INTO asset_face ("assetId", "personId", "imageWidth", "imageHeight", "boundingBoxX1",'
        ' "boundingBoxY1", "boundingBoxX2", "boundingBoxY2") VALUES (%s, %s, 1000, 800, %s, %s, %s, %s) RETURNING id',
        (asset_id, person_id, *box),
    )
    return str(face_id)


async def _person(client: Any, user: UserCreds, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/people", headers=user.headers, json=body)
    assert response.status_code == 201, await response.get_json()
    result: dict[str, Any] = await response.get_json()
    return result


def test_face_crop_is_a_square_grown_by_ten_percent() -> None:
    crop = face_crop((1000, 800), (1000, 800), (600, 200, 800, 400))
    assert (crop.left, crop.top, crop.width, crop.height) == (590, 190, 220, 220)
    # near an edge the square shrinks so that it stays inside the image
    edge = face_crop((1000, 800), (500, 400), (0, 0, 100, 100))
    assert edge.left == 0 and edge.top == 0 and edge.width == edge.height


async def test_people_lifecycle(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    media = runtime.settings.media_location
    alex = await make_user("alex@example.com")
    bo = await make_user("bo@example.com")
    photo = _photo(sql, alex, media, "a.jpg")
    other = _photo(sql, alex, media, "b.jpg")

    ann = await _person(client, alex, name="Ann", isFavorite=True, color="#ff0000")
    assert list(ann) == [*PERSON_KEYS[:6], "color", "updatedAt"]
    assert ann["birthDate"] is None and ann["isFavorite"] is True and ann["thumbnailPath"] == ""
    ben = await _person(client, alex, name="Ben", birthDate="1990-05-01")
    nameless = await _person(client, alex)
    f1 = _face(sql, photo, ann["id"])
    _face(sql, other, ben["id"])
    _face(sql, other, nameless["id"], (10, 10, 50, 50))

    # the list: favorites first; unnamed people need minFaces faces
    response = await client.get("/api/people", headers=alex.headers)
    body = await response.get_json()
    assert list(body) == ["people", "hasNextPage", "total", "hidden"]
    assert [p["name"] for p in body["people"]] == ["Ann", "Ben"]
    assert (body["total"], body["hidden"], body["hasNextPage"]) == (3, 0, False)
    response = await client.get("/api/people?size=1", headers=alex.headers)
    page = await response.get_json()
    assert [p["name"] for p in page["people"]] == ["Ann"] and page["hasNextPage"] is True

    # get, statistics, bad ids and other users
    assert (await (await client.get(f"/api/people/{ben['id']}", headers=alex.headers)).get_json())["birthDate"] == "1990-05-01"
    stats = await client.get(f"/api/people/{ann['id']}/statistics", headers=alex.headers)
    assert await stats.get_json() == {"assets": 1}
    for who, pid in ((bo, ann["id"]), (alex, MISSING_ID)):
        response = await client.get(f"/api/people/{pid}", headers=who.headers)
        assert response.status_code == 400
        assert (await response.get_json())["message"] == "Not found or no person.read access"

    # update: birth date in the future, hidden, feature face (queues the thumbnail job)
    response = await client.put(f"/api/people/{ben['id']}", headers=alex.headers, json={"birthDate": "2999-01-01"})
    assert response.status_code == 400
    assert "Birth date cannot be in the future" in str(await response.get_json())
    response = await client.put(f"/api/people/{ben['id']}", headers=alex.headers, json={"featureFaceAssetId": photo})
    assert (await response.get_json())["message"] == "Invalid assetId for feature face"
    response = await client.put(f"/api/people/{ann['id']}", headers=alex.headers, json={"featureFaceAssetId": photo, "isHidden": True})
    assert response.status_code == 200 and (await response.get_json())["isHidden"] is True
    assert sql('SELECT "faceAssetId"::text FROM person WHERE id = %s', (ann["id"],)) == [(f1,)]
    assert sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'PersonGenerateThumbnail'") == [(ann["id"],)]
    response = await client.get("/api/people", headers=alex.headers)
    assert [p["name"] for p in (await response.get_json())["people"]] == ["Ben"]
    response = await client.get("/api/people?withHidden=true", headers=alex.headers)
    assert [p["name"] for p in (await response.get_json())["people"]] == ["Ben", "Ann"]

    # the thumbnail job: a 250x250 JPEG cut from the red face box
    actor = PersonThumbnailActor(runtime.pool, media)
    job = Job(id=1, queue="thumbnailGeneration", name="PersonGenerateThumbnail", data={"id": ann["id"]}, attempt=1, max_attempts=3, created_at=datetime.now(UTC))
    result = await actor.run_job(job)
    assert result.status == "success" and result.apply is not None
    async with runtime.pool.connection() as conn, conn.transaction():
        await result.apply(conn)
    response = await client.get(f"/api/people/{ann['id']}/thumbnail", headers=alex.headers)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-cache, no-transform"
    thumb = Image.open(io.BytesIO(await response.get_data()))
    assert thumb.format == "JPEG" and thumb.size == (220, 220)  # Immich never enlarges a small crop
    red = sum(1 for r, g, b in thumb.convert("RGB").getdata() if r > 200 and g < 60 and b < 60)
    assert red / (thumb.width * thumb.height) > 0.7
    response = await client.get(f"/api/people/{ben['id']}/thumbnail", headers=alex.headers)
    assert response.status_code == 404

    # update many: per-id results
    response = await client.put("/api/people", headers=alex.headers, json={"people": [
        {"id": ben["id"], "name": "Benjamin"}, {"id": MISSING_ID, "name": "x"}]})
    assert await response.get_json() == [
        {"id": ben["id"], "success": True}, {"id": MISSING_ID, "success": False, "error": "unknown"}]

    # search by name
    response = await client.get("/api/search/person?name=benj", headers=alex.headers)
    assert [p["name"] for p in await response.get_json()] == ["Benjamin"]
    response = await client.get("/api/search/person?name=benj", headers=bo.headers)
    assert await response.get_json() == []

    # faces of an asset; reassign one face; merge; delete
    response = await client.get(f"/api/faces?id={other}", headers=alex.headers)
    faces = await response.get_json()
    assert [f["person"]["name"] for f in faces] == ["", "Benjamin"]
    assert list(faces[0]) == ["id", "imageHeight", "imageWidth", "boundingBoxX1", "boundingBoxX2",
                              "boundingBoxY1", "boundingBoxY2", "sourceType", "person"]
    response = await client.post(f"/api/people/{ben['id']}/merge", headers=alex.headers, json={"ids": [ben["id"]]})
    assert (await response.get_json())["message"] == "Cannot merge a person into themselves"
    response = await client.post(f"/api/people/{ben['id']}/merge", headers=alex.headers,
                                 json={"ids": [nameless["id"], MISSING_ID]})
    assert await response.get_json() == [
        {"id": nameless["id"], "success": True}, {"id": MISSING_ID, "success": False, "error": "no_permission"}]
    assert sql('SELECT count(*) FROM asset_face WHERE "personId" = %s', (ben["id"],)) == [(2,)]
    assert sql("SELECT count(*) FROM person WHERE id = %s", (nameless["id"],)) == [(0,)]

    response = await client.put(f"/api/people/{ann['id']}/reassign", headers=alex.headers,
                                json={"data": [{"assetId": other, "personId": ben["id"]}]})
    assert response.status_code == 200 and [p["id"] for p in await response.get_json()] == [ann["id"]]
    assert sql('SELECT count(*) FROM asset_face WHERE "personId" = %s', (ann["id"],)) == [(3,)]

    response = await client.put(f"/api/faces/{ben['id']}", headers=alex.headers, json={"id": f1})
    assert response.status_code == 200 and (await response.get_json())["id"] == ben["id"]

    # manual face, asset people, delete face, delete people
    response = await client.post("/api/faces", headers=alex.headers, json={
        "assetId": photo, "personId": ann["id"], "imageWidth": 1000, "imageHeight": 800,
        "x": 10, "y": 20, "width": 30, "height": 40})
    assert response.status_code == 201
    [(manual, box)] = sql('SELECT id::text, array["boundingBoxX2", "boundingBoxY2"] FROM asset_face'
                          " WHERE \"sourceType\" = 'manual'")
    assert box == [40, 60]
    response = await client.get(f"/api/assets/{photo}", headers=alex.headers)
    assert sorted(p["name"] for p in (await response.get_json())["people"]) == ["Ann", "Benjamin"]
    response = await client.open(f"/api/faces/{manual}", method="DELETE", headers=alex.headers, json={"force": False})
    assert response.status_code == 204
    assert sql('SELECT "deletedAt" IS NOT NULL FROM asset_face WHERE id = %s', (manual,)) == [(True,)]
    response = await client.open(f"/api/faces/{manual}", method="DELETE", headers=bo.headers, json={"force": True})
    assert response.status_code == 400

    response = await client.open("/api/people", method="DELETE", headers=alex.headers, json={"ids": [ann["id"]]})
    assert response.status_code == 204
    assert sql("SELECT count(*) FROM person WHERE id = %s", (ann["id"],)) == [(0,)]
    response = await client.delete(f"/api/people/{ben['id']}", headers=bo.headers)
    assert response.status_code == 400
    response = await client.delete(f"/api/people/{ben['id']}", headers=alex.headers)
    assert response.status_code == 204


async def test_thumbnail_job_is_skipped_without_recognition_or_face_import(
    runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    """Immich's guard: no facial recognition (ML off, or its facial recognition off) and no face
    import from metadata: the job is skipped, nothing is written. Face import alone suffices."""
    alex = await make_user("alex@example.com", name="Alex")
    media = runtime.settings.media_location
    photo = _photo(sql, alex, media, "face.jpg")
    [(person,)] = sql('INSERT INTO person ("ownerId", name) VALUES (%s, %s) RETURNING id', (alex.id, "Ann"))
    face = _face(sql, photo, str(person))
    sql('UPDATE person SET "faceAssetId" = %s WHERE id = %s', (face, person))
    job = Job(id=1, queue="thumbnailGeneration", name="PersonGenerateThumbnail", data={"id": str(person)},
              attempt=1, max_attempts=3, created_at=datetime.now(UTC))
    for config, status in (
        ({"machineLearning": {"enabled": False}}, "skipped"),
        ({"machineLearning": {"facialRecognition": {"enabled": False}}}, "skipped"),
        ({"machineLearning": {"enabled": False}, "metadata": {"faces": {"import": True}}}, "success"),
    ):
        sql("DELETE FROM system_metadata WHERE key = 'system-config'")
        sql("INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)", (json.dumps(config),))
        result = await PersonThumbnailActor(runtime.pool, media).run_job(job)
        assert result.status == status, config
        assert (result.apply is None) == (status == "skipped")
        assert bool(list(media.glob("thumbs/*/*/*/*.jpeg"))) == (status == "success")  # a skip writes nothing


async def test_asset_info_people_and_no_unassigned_faces(client: Any, make_user: MakeUser, sql: Sql,
                                                         runtime: Runtime) -> None:
    """``GET /assets/{id}``: ``people`` lists the persons of the asset's faces for the owner and
    is empty for anyone else; faces without a person are not shown. Immich v3.1's
    ``AssetResponseDto`` has no ``unassignedFaces`` (the field older versions sent)."""
    alex = await make_user("alex@example.com", name="Alex")
    sam = await make_user("sam@example.com", name="Sam")
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (alex.id, sam.id))
    photo = _photo(sql, alex, runtime.settings.media_location, "faces.jpg")
    ann = await _person(client, alex, name="Ann")
    _face(sql, photo, ann["id"])
    _face(sql, photo, None, (100, 100, 200, 200))
    response = await client.get(f"/api/assets/{photo}", headers=alex.headers)
    body = await response.get_json()
    assert [p["id"] for p in body["people"]] == [ann["id"]]
    assert "unassignedFaces" not in body
    response = await client.get(f"/api/assets/{photo}", headers=sam.headers)
    body = await response.get_json()
    assert body["people"] == [] and "unassignedFaces" not in body
