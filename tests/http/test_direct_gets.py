"""Bodiless GETs answered straight from the ASGI call route and answer as werkzeug's routing does."""

from __future__ import annotations

from typing import Any

from tests.http.conftest import MakeUser


async def test_literal_path_wins_over_a_template(client: Any, make_user: MakeUser) -> None:
    user = await make_user("direct@example.com")
    # /api/assets/statistics, not /api/assets/{id} with id "statistics".
    response = await client.get("/api/assets/statistics", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"images": 0, "videos": 0, "total": 0}


async def test_template_parameter_is_validated(client: Any, make_user: MakeUser) -> None:
    user = await make_user("direct2@example.com")
    response = await client.get("/api/assets/not-a-uuid", headers=user.headers)
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == ["id"]


async def test_trailing_slash_and_unknown_paths_answer_as_before(client: Any) -> None:
    response = await client.get("/api/server/ping/")
    assert response.status_code in (308, 404)  # werkzeug's answer, whatever it is
    response = await client.get("/api/server/pingx")
    assert response.status_code == 404
    assert await response.get_json() == {"message": "Cannot GET /api/server/pingx"}


async def test_head_has_the_headers_of_get(client: Any) -> None:
    get = await client.get("/api/server/ping")
    head = await client.head("/api/server/ping")
    assert head.status_code == 200
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_users_me_with_either_credential_reads_the_same_user(client: Any, make_user: MakeUser) -> None:
    user = await make_user("direct3@example.com")
    key = await client.post("/api/api-keys", json={"name": "k", "permissions": ["all"]}, headers=user.headers)
    secret = (await key.get_json())["secret"]
    by_session = await (await client.get("/api/users/me", headers=user.headers)).get_json()
    by_key = await (await client.get("/api/users/me", headers={"x-api-key": secret})).get_json()
    assert by_session == by_key
    assert by_session["email"] == "direct3@example.com"
