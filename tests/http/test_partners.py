"""The Partners tag: create (body and deprecated path form), list both directions, inTimeline,
remove; Immich's errors; partner assets readable (never writable) while the pair exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from immich_trio import crypto
from immich_trio.runtime import Runtime
from tests.http.access.world import _asset
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"
PARTNER_KEYS = ["id", "email", "name", "profileImagePath", "avatarColor", "profileChangedAt", "inTimeline"]

# Immich's own answers (a real v3.1 install): GET /api/partners?direction=shared-by as Alex,
# and ?direction=shared-with as Ana. Their dates are PostgreSQL's JSON form.
RECORDED_SHARED_BY = [{
    "id": "228befff-6d7d-4a69-8866-3a9b2ffaab9b", "email": "ana@family.test", "name": "Ana",
    "profileImagePath": "", "avatarColor": "blue",
    "profileChangedAt": "2026-12-06T20:51:21.191269+00:00", "inTimeline": False,
}]
RECORDED_SHARED_WITH = [{
    "id": "4e3d44d1-50bb-4751-8b98-12e2a211ef7f", "email": "admin@family.test", "name": "Alex Admin",
    "profileImagePath": "", "avatarColor": "pink",
    "profileChangedAt": "2026-12-06T20:51:21.026972+00:00", "inTimeline": False,
}]


async def _pair(make_user: MakeUser) -> tuple[UserCreds, UserCreds]:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    return alex, ana


async def test_recorded_pair_answers_as_immich(client: Any, sql: Sql) -> None:
    """Immich's two users and their pair, as in the recorded install: the same bodies, byte for byte."""
    tokens = {}
    for uid, email, name, color, changed in (
        ("4e3d44d1-50bb-4751-8b98-12e2a211ef7f", "admin@family.test", "Alex Admin", "pink",
         "2026-12-06T20:51:21.026972+00:00"),
        ("228befff-6d7d-4a69-8866-3a9b2ffaab9b", "ana@family.test", "Ana", "blue",
         "2026-12-06T20:51:21.191269+00:00"),
    ):
        sql('INSERT INTO "user" (id, email, password, name, "avatarColor", "profileChangedAt")'
            " VALUES (%s, %s, '', %s, %s, %s)", (uid, email, name, color, changed))
        tokens[email] = crypto.new_token()
        sql('INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
            (crypto.hash_token(tokens[email]), uid, "pytest", "Linux"))
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)',
        ("4e3d44d1-50bb-4751-8b98-12e2a211ef7f", "228befff-6d7d-4a69-8866-3a9b2ffaab9b"))

    def auth(email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[email]}"}

    response = await client.get("/api/partners?direction=shared-by", headers=auth("admin@family.test"))
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == _compact(RECORDED_SHARED_BY)
    response = await client.get("/api/partners?direction=shared-with", headers=auth("ana@family.test"))
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == _compact(RECORDED_SHARED_WITH)
    # and the other way round, nobody
    for email, direction in (("admin@family.test", "shared-with"), ("ana@family.test", "shared-by")):
        response = await client.get(f"/api/partners?direction={direction}", headers=auth(email))
        assert (response.status_code, await response.get_json()) == (200, [])


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


async def test_create_list_update_remove(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex, ana = await _pair(make_user)
    response = await client.post("/api/partners", headers=alex.headers, json={"sharedWithId": ana.id})
    assert response.status_code == 201
    body = await response.get_json()
    assert list(body) == PARTNER_KEYS
    assert body["id"] == ana.id and body["name"] == "Ana" and body["email"] == ana.email
    assert body["inTimeline"] is False
    assert body["profileChangedAt"].endswith("+00:00")

    response = await client.get("/api/partners?direction=shared-by", headers=alex.headers)
    assert [p["id"] for p in await response.get_json()] == [ana.id]
    response = await client.get("/api/partners?direction=shared-with", headers=ana.headers)
    [seen] = await response.get_json()
    assert (seen["id"], seen["name"], seen["inTimeline"]) == (alex.id, "Alex", False)

    # only the receiving user chooses inTimeline; the answer shows the user who shares
    response = await client.put(f"/api/partners/{alex.id}", headers=ana.headers, json={"inTimeline": True})
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body) == PARTNER_KEYS and body["id"] == alex.id and body["inTimeline"] is True
    response = await client.get("/api/partners?direction=shared-by", headers=alex.headers)
    assert (await response.get_json())[0]["inTimeline"] is True
    response = await client.put(f"/api/partners/{ana.id}", headers=alex.headers, json={"inTimeline": True})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Not found or no partner.update access"})

    response = await client.delete(f"/api/partners/{ana.id}", headers=alex.headers)
    assert response.status_code == 204
    response = await client.get("/api/partners?direction=shared-with", headers=ana.headers)
    assert await response.get_json() == []
    assert sql('SELECT "sharedById"::text, "sharedWithId"::text FROM partner_audit') == [(alex.id, ana.id)]
    response = await client.delete(f"/api/partners/{ana.id}", headers=alex.headers)
    assert (response.status_code, await response.get_json()) == (400, {"message": "Partner not found"})


async def test_create_errors(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex, ana = await _pair(make_user)
    response = await client.post(f"/api/partners/{ana.id}", headers=alex.headers)  # deprecated form
    assert response.status_code == 201
    assert (await response.get_json())["id"] == ana.id
    for request in (
        client.post("/api/partners", headers=alex.headers, json={"sharedWithId": ana.id}),
        client.post(f"/api/partners/{ana.id}", headers=alex.headers),
    ):
        response = await request
        assert (response.status_code, await response.get_json()) == (400, {"message": "Partner already exists"})
    response = await client.post("/api/partners", headers=alex.headers, json={"sharedWithId": MISSING_ID})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Invalid user"})
    # a soft-deleted user is no partner
    gone = await make_user("gone@example.com", name="Gone")
    sql('UPDATE "user" SET "deletedAt" = now() WHERE id = %s', (gone.id,))
    response = await client.post("/api/partners", headers=alex.headers, json={"sharedWithId": gone.id})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Invalid user"})
    # malformed and missing ids
    response = await client.post("/api/partners", headers=alex.headers, json={"sharedWithId": "nope"})
    body = await response.get_json()
    assert response.status_code == 400 and body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == ["sharedWithId"]
    response = await client.post("/api/partners", headers=alex.headers, json={})
    assert (await response.get_json())["errors"][0]["code"] == "invalid_type"
    response = await client.put("/api/partners/nope", headers=ana.headers, json={"inTimeline": True})
    assert (await response.get_json())["message"] == "Validation failed"
    response = await client.put(f"/api/partners/{alex.id}", headers=ana.headers, json={})
    assert (await response.get_json())["message"] == "Validation failed"
    response = await client.get("/api/partners?direction=sideways", headers=alex.headers)
    assert (await response.get_json())["message"] == "Validation failed"
    response = await client.get("/api/partners", headers=alex.headers)
    assert (await response.get_json())["message"] == "Validation failed"
    assert sql('SELECT count(*) FROM partner') == [(1,)]


async def test_soft_deleted_partner_is_hidden(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex, ana = await _pair(make_user)
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (alex.id, ana.id))
    sql('UPDATE "user" SET "deletedAt" = now() WHERE id = %s', (ana.id,))
    response = await client.get("/api/partners?direction=shared-by", headers=alex.headers)
    assert await response.get_json() == []


async def test_partner_assets_readable_while_shared(
    client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime
) -> None:
    alex, ana = await _pair(make_user)
    photo = _asset(sql, alex.id, runtime.settings.media_location, "alex.jpg", "IMAGE")
    info, thumb = f"/api/assets/{photo}", f"/api/assets/{photo}/thumbnail"

    async def ana_sees() -> tuple[int, int]:
        first = await client.get(info, headers=ana.headers)
        second = await client.get(thumb, headers=ana.headers)
        return first.status_code, second.status_code

    assert await ana_sees() == (400, 404)
    response = await client.post("/api/partners", headers=alex.headers, json={"sharedWithId": ana.id})
    assert response.status_code == 201
    assert await ana_sees() == (200, 200)
    response = await client.get(info, headers=ana.headers)
    assert (await response.get_json())["isFavorite"] is False
    # readable, never writable
    response = await client.put(info, headers=ana.headers, json={"isFavorite": True})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Not found or no asset.update access"})
    response = await client.delete("/api/assets", headers=ana.headers, json={"ids": [photo]})
    assert (response.status_code, await response.get_json()) == (400, {"message": "Not found or no asset.delete access"})

    # the timeline shows the partner's photo only once Ana puts Alex in her timeline
    async def bucket_count() -> int:
        response = await client.get("/api/timeline/buckets?withPartners=true&visibility=timeline",
                                    headers=ana.headers)
        assert response.status_code == 200
        return sum(b["count"] for b in await response.get_json())

    assert await bucket_count() == 0
    response = await client.put(f"/api/partners/{alex.id}", headers=ana.headers, json={"inTimeline": True})
    assert response.status_code == 200
    assert await bucket_count() == 1

    response = await client.delete(f"/api/partners/{ana.id}", headers=alex.headers)
    assert response.status_code == 204
    assert await ana_sees() == (400, 404)
    assert await bucket_count() == 0
