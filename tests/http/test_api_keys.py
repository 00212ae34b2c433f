"""The API keys tag: creation, secrets as credentials, permissions, ownership."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from immich_trio import crypto
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

KEY_FIELDS = ["id", "name", "createdAt", "updatedAt", "permissions"]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


async def create(
    client: Any, user: UserCreds, permissions: list[str], name: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"permissions": permissions}
    if name is not None:
        body["name"] = name
    response = await client.post("/api/api-keys", headers=user.headers, json=body)
    assert response.status_code == 201, await response.get_json()
    return dict(await response.get_json())


async def test_create_api_key(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("a@example.com")
    body = await create(client, user, ["asset.read", "album.read"], name="Backup script")
    assert list(body) == ["secret", "apiKey"]
    assert list(body["apiKey"]) == KEY_FIELDS
    assert body["apiKey"]["name"] == "Backup script"
    assert body["apiKey"]["permissions"] == ["asset.read", "album.read"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["apiKey"]["createdAt"])
    secret = body["secret"]
    assert re.fullmatch(r"[A-Za-z0-9]{32,43}", secret)
    # only the hash is stored
    rows = sql('SELECT key, "userId"::text FROM api_key')
    assert rows == [(crypto.hash_token(secret), user.id)]

    unnamed = await create(client, user, ["all"])
    assert unnamed["apiKey"]["name"] == "API Key"


async def test_create_api_key_validation(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("v@example.com")
    for permissions in (["asset.fly"], [], ["asset.create"]):
        response = await client.post(
            "/api/api-keys", headers=user.headers, json={"permissions": permissions}
        )
        assert response.status_code == 400, permissions
        body = await response.get_json()
        assert body["message"] == "Validation failed"
        assert body["errors"][0]["path"][0] == "permissions"
    missing = await client.post("/api/api-keys", headers=user.headers, json={"name": "x"})
    assert missing.status_code == 400
    assert sql("SELECT count(*) FROM api_key") == [(0,)]


async def test_api_key_transports_and_invalid_key(client: Any, make_user: MakeUser) -> None:
    user = await make_user("t@example.com")
    secret = (await create(client, user, ["all"]))["secret"]
    by_header = await client.get("/api/sessions", headers={"x-api-key": secret})
    assert by_header.status_code == 200
    by_query = await client.get("/api/sessions", query_string={"apiKey": secret})
    assert by_query.status_code == 200
    for kwargs in ({"headers": {"x-api-key": "nope"}}, {"query_string": {"apiKey": "nope"}}):
        response = await client.get("/api/sessions", **kwargs)
        assert response.status_code == 401
        assert await response.get_json() == {"message": "Invalid API key"}


async def test_limited_key_is_held_to_its_permissions(client: Any, make_user: MakeUser) -> None:
    user = await make_user("lim@example.com")
    key = {"x-api-key": (await create(client, user, ["session.read"]))["secret"]}
    allowed = await client.get("/api/sessions", headers=key)
    assert allowed.status_code == 200
    refused = await client.get("/api/api-keys", headers=key)
    assert refused.status_code == 403
    assert await refused.get_json() == {"message": "Missing required permission: apiKey.read"}
    needs_all = await client.get("/api/auth/status", headers=key)
    assert needs_all.status_code == 403
    assert await needs_all.get_json() == {"message": "Missing required permission: all"}
    # the same user's session is never checked against permissions
    assert (await client.get("/api/api-keys", headers=user.headers)).status_code == 200


async def test_get_my_api_key(client: Any, make_user: MakeUser) -> None:
    user = await make_user("me@example.com")
    created = await create(client, user, ["session.read"], name="mine")
    response = await client.get("/api/api-keys/me", headers={"x-api-key": created["secret"]})
    assert response.status_code == 200
    assert await response.get_json() == created["apiKey"]

    with_session = await client.get("/api/api-keys/me", headers=user.headers)
    assert with_session.status_code == 403
    assert await with_session.get_json() == {"message": "Not authenticated with an API Key"}


async def test_list_get_update_delete(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("crud@example.com")
    first = (await create(client, user, ["asset.read"], name="first"))["apiKey"]
    sql("UPDATE api_key SET \"createdAt\" = now() - interval '1 day' WHERE id = %s", (first["id"],))
    second = await create(client, user, ["album.read"], name="second")

    listed = await client.get("/api/api-keys", headers=user.headers)
    assert listed.status_code == 200
    assert [k["name"] for k in await listed.get_json()] == ["second", "first"]  # newest first

    one = await client.get(f"/api/api-keys/{first['id']}", headers=user.headers)
    assert one.status_code == 200
    assert (await one.get_json())["name"] == "first"

    renamed = await client.put(
        f"/api/api-keys/{first['id']}", headers=user.headers, json={"name": "renamed"}
    )
    assert renamed.status_code == 200
    body = await renamed.get_json()
    assert body["name"] == "renamed"
    assert body["permissions"] == ["asset.read"]  # absent field left alone
    regranted = await client.put(
        f"/api/api-keys/{first['id']}",
        headers=user.headers,
        json={"permissions": ["tag.read", "tag.create"]},
    )
    assert (await regranted.get_json())["permissions"] == ["tag.read", "tag.create"]
    assert (await regranted.get_json())["name"] == "renamed"
    patched = await client.patch(
        f"/api/api-keys/{first['id']}", headers=user.headers, json={"name": "patched"}
    )
    assert patched.status_code == 200
    assert (await patched.get_json())["name"] == "patched"
    bad = await client.put(
        f"/api/api-keys/{first['id']}", headers=user.headers, json={"permissions": ["nope"]}
    )
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"

    deleted = await client.delete(f"/api/api-keys/{second['apiKey']['id']}", headers=user.headers)
    assert deleted.status_code == 204
    assert await deleted.get_data() == b""
    gone = await client.get("/api/sessions", headers={"x-api-key": second["secret"]})
    assert gone.status_code == 401
    assert await gone.get_json() == {"message": "Invalid API key"}
    missing = await client.get(f"/api/api-keys/{second['apiKey']['id']}", headers=user.headers)
    assert missing.status_code == 400
    assert await missing.get_json() == {"message": "API Key not found"}


async def test_another_users_key_is_out_of_reach(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    alice = await make_user("alice@example.com")
    bob = await make_user("bob@example.com")
    bobs = await create(client, bob, ["all"], name="bob's")
    bob_key_id = bobs["apiKey"]["id"]

    assert await (await client.get("/api/api-keys", headers=alice.headers)).get_json() == []
    for key_id in (bob_key_id, MISSING_ID):
        for response in (
            await client.get(f"/api/api-keys/{key_id}", headers=alice.headers),
            await client.put(
                f"/api/api-keys/{key_id}", headers=alice.headers, json={"name": "mine now"}
            ),
            await client.delete(f"/api/api-keys/{key_id}", headers=alice.headers),
        ):
            assert response.status_code == 400
            assert await response.get_json() == {"message": "API Key not found"}
    assert sql("SELECT name FROM api_key WHERE id = %s", (bob_key_id,)) == [("bob's",)]
    assert (
        await client.get("/api/sessions", headers={"x-api-key": bobs["secret"]})
    ).status_code == 200


async def test_a_key_cannot_grant_more_than_it_has(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("grant@example.com")
    limited = await create(client, user, ["apiKey.create", "apiKey.update", "asset.read"])
    key = {"x-api-key": limited["secret"]}

    wider = await client.post("/api/api-keys", headers=key, json={"permissions": ["all"]})
    assert wider.status_code == 400
    assert await wider.get_json() == {"message": "Cannot grant permissions you do not have"}
    other = await client.post(
        "/api/api-keys", headers=key, json={"permissions": ["asset.read", "album.read"]}
    )
    assert other.status_code == 400
    assert sql("SELECT count(*) FROM api_key") == [(1,)]

    narrower = await client.post("/api/api-keys", headers=key, json={"permissions": ["asset.read"]})
    assert narrower.status_code == 201
    child_id = (await narrower.get_json())["apiKey"]["id"]

    escalate = await client.put(
        f"/api/api-keys/{child_id}", headers=key, json={"permissions": ["album.read"]}
    )
    assert escalate.status_code == 400
    assert await escalate.get_json() == {"message": "Cannot grant permissions you do not have"}
    rename = await client.put(f"/api/api-keys/{child_id}", headers=key, json={"name": "fine"})
    assert rename.status_code == 200

    # a session, or a key holding "all", may grant anything
    assert (
        await client.put(
            f"/api/api-keys/{child_id}", headers=user.headers, json={"permissions": ["all"]}
        )
    ).status_code == 200
    full = {"x-api-key": (await create(client, user, ["all"]))["secret"]}
    assert (
        await client.post("/api/api-keys", headers=full, json={"permissions": ["album.read"]})
    ).status_code == 201
