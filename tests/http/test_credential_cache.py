"""The credential cache seen from a client: a repeated request is answered from memory, and
every change to a session, an API key or a user takes effect at the very next request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import trio

from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser, UserCreds, now

Sql = Any


@pytest.fixture
async def watch(runtime: Runtime, nursery: trio.Nursery) -> AsyncIterator[None]:
    """This process's credential watch, listening: the cache answers."""
    with trio.fail_after(10):
        await nursery.start(partial(runtime.credentials.run, runtime.pool.url))
    assert runtime.credentials.statistics().listening
    yield


async def _me(client: Any, headers: dict[str, str]) -> tuple[int, Any]:
    response = await client.get("/api/users/me", headers=headers)
    return response.status_code, await response.get_json()


async def _login(client: Any, user: UserCreds) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {(await response.get_json())['accessToken']}"}


async def _api_key(client: Any, user: UserCreds, permissions: list[str]) -> tuple[str, dict[str, str]]:
    response = await client.post("/api/api-keys", json={"name": "k", "permissions": permissions}, headers=user.headers)
    assert response.status_code == 201
    body = await response.get_json()
    return body["apiKey"]["id"], {"x-api-key": body["secret"]}


async def test_a_repeated_request_is_answered_from_memory(
    client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime, watch: None
) -> None:
    user = await make_user()
    assert (await _me(client, user.headers))[1]["name"] == "User"
    # A change made behind the server's back (no event) is not seen until the entry expires:
    # the second request did not read the database.
    sql("""UPDATE "user" SET name = 'Renamed by hand' WHERE id = %s""", (user.id,))
    assert (await _me(client, user.headers))[1]["name"] == "User"
    assert runtime.credentials.statistics().hits >= 1


async def test_without_its_watch_the_cache_does_not_answer(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user()
    assert (await _me(client, user.headers))[1]["name"] == "User"
    sql("""UPDATE "user" SET name = 'Renamed by hand' WHERE id = %s""", (user.id,))
    assert (await _me(client, user.headers))[1]["name"] == "Renamed by hand"


async def test_logout_and_session_deletes_refuse_the_token_at_once(
    client: Any, make_user: MakeUser, watch: None
) -> None:
    user = await make_user()
    first, second, third = [await _login(client, user) for _ in range(3)]
    for headers in (user.headers, first, second, third):
        assert (await _me(client, headers))[0] == 200

    assert (await client.post("/api/auth/logout", headers=first)).status_code == 200
    assert await _me(client, first) == (401, {"message": "Invalid user token"})

    sessions = await (await client.get("/api/sessions", headers=user.headers)).get_json()
    [second_id] = [s["id"] for s in sessions if not s["current"]][:1]
    assert (await client.delete(f"/api/sessions/{second_id}", headers=user.headers)).status_code == 204
    codes = {(await _me(client, h))[0] for h in (second, third)}
    assert codes == {200, 401}  # exactly the deleted one is refused

    assert (await client.delete("/api/sessions", headers=user.headers)).status_code == 204
    assert (await _me(client, second))[0] == 401
    assert (await _me(client, third))[0] == 401
    assert (await _me(client, user.headers))[0] == 200  # the caller's own session stays


async def test_password_change_ends_the_other_sessions(client: Any, make_user: MakeUser, watch: None) -> None:
    user = await make_user()
    other = await _login(client, user)
    assert (await _me(client, other))[0] == 200
    body = {"password": user.password, "newPassword": "new-password", "invalidateSessions": True}
    assert (await client.post("/api/auth/change-password", json=body, headers=user.headers)).status_code == 200
    assert (await _me(client, other))[0] == 401
    assert (await _me(client, user.headers))[0] == 200


async def test_pin_unlock_and_lock_take_effect_at_once(client: Any, make_user: MakeUser, watch: None) -> None:
    user = await make_user()

    async def elevated() -> bool:
        response = await client.get("/api/auth/status", headers=user.headers)
        assert response.status_code == 200
        return bool((await response.get_json())["isElevated"])

    assert (await client.post("/api/auth/pin-code", json={"pinCode": "123456"}, headers=user.headers)).status_code == 204
    assert await elevated() is False
    unlock = await client.post("/api/auth/session/unlock", json={"pinCode": "123456"}, headers=user.headers)
    assert unlock.status_code == 204
    assert await elevated() is True
    assert (await client.post("/api/auth/session/lock", headers=user.headers)).status_code == 204
    assert await elevated() is False


async def test_pin_keep_alive_and_session_touch_still_write(
    client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime, watch: None
) -> None:
    user = await make_user()
    sql("""UPDATE session SET "pinExpiresAt" = now() + interval '10 minutes'""")
    assert (await _me(client, user.headers))[0] == 200  # cached now
    start = now()
    runtime.now = lambda: start + timedelta(minutes=7)  # 3 minutes of PIN left: kept alive
    assert (await client.get("/api/auth/status", headers=user.headers)).status_code == 200
    [(pin_expires,)] = sql('SELECT "pinExpiresAt" FROM session')
    assert pin_expires >= start + timedelta(minutes=11)
    runtime.now = lambda: start + timedelta(hours=2)  # an hour-old session is touched
    [(before,)] = sql('SELECT "updatedAt" FROM session')
    assert (await _me(client, user.headers))[0] == 200
    [(after,)] = sql('SELECT "updatedAt" FROM session')
    assert after > before


async def test_an_expired_session_is_refused_though_cached(
    client: Any, make_user: MakeUser, sql: Sql, runtime: Runtime, watch: None
) -> None:
    user = await make_user()
    sql("""UPDATE session SET "expiresAt" = now() + interval '1 day'""")
    assert (await _me(client, user.headers))[0] == 200
    assert (await _me(client, user.headers))[0] == 200
    start = now()
    runtime.now = lambda: start + timedelta(days=2)
    assert (await _me(client, user.headers))[0] == 401


async def test_api_key_update_and_delete_take_effect_at_once(
    client: Any, make_user: MakeUser, watch: None
) -> None:
    user = await make_user()
    key_id, key = await _api_key(client, user, ["user.read", "apiKey.read"])
    assert (await _me(client, key))[0] == 200
    assert (await client.get("/api/api-keys", headers=key)).status_code == 200
    updated = await client.put(f"/api/api-keys/{key_id}", json={"permissions": ["apiKey.read"]}, headers=user.headers)
    assert updated.status_code == 200
    assert await _me(client, key) == (403, {"message": "Missing required permission: user.read"})
    assert (await client.delete(f"/api/api-keys/{key_id}", headers=user.headers)).status_code == 204
    assert (await client.get("/api/api-keys", headers=key)).status_code == 401


async def test_user_updates_are_seen_at_once_with_either_credential(
    client: Any, make_user: MakeUser, watch: None
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user()
    _, key = await _api_key(client, user, ["all"])
    for headers in (user.headers, key):
        assert (await _me(client, headers))[1]["name"] == "User"

    assert (await client.put("/api/users/me", json={"name": "Renamed"}, headers=user.headers)).status_code == 200
    for headers in (user.headers, key):
        assert (await _me(client, headers))[1]["name"] == "Renamed"

    change = {"isAdmin": True, "quotaSizeInBytes": 1000, "storageLabel": "label", "shouldChangePassword": True}
    assert (await client.put(f"/api/admin/users/{user.id}", json=change, headers=admin.headers)).status_code == 200
    for headers in (user.headers, key):
        me = (await _me(client, headers))[1]
        assert (me["isAdmin"], me["quotaSizeInBytes"], me["storageLabel"], me["shouldChangePassword"]) == (
            True, 1000, "label", True,
        )
    assert (await client.get("/api/admin/users", headers=key)).status_code == 200  # admin now



async def test_user_delete_and_restore_take_effect_at_once(client: Any, make_user: MakeUser, watch: None) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user()
    _, key = await _api_key(client, user, ["all"])
    for headers in (user.headers, key):
        assert (await _me(client, headers))[0] == 200
    assert (await client.delete(f"/api/admin/users/{user.id}", json={}, headers=admin.headers)).status_code == 200
    assert await _me(client, user.headers) == (401, {"message": "Invalid user token"})
    assert await _me(client, key) == (401, {"message": "Invalid API key"})
    assert (await client.post(f"/api/admin/users/{user.id}/restore", headers=admin.headers)).status_code == 200
    for headers in (user.headers, key):
        assert (await _me(client, headers))[0] == 200


async def test_a_refused_credential_is_not_remembered(
    client: Any, make_user: MakeUser, sql: Sql, watch: None
) -> None:
    user = await make_user()
    unknown = {"Authorization": "Bearer not-yet-a-session"}
    assert (await _me(client, unknown))[0] == 401
    from immich_trio import crypto

    sql(
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS") VALUES (%s, %s, %s, %s)',
        (crypto.hash_token("not-yet-a-session"), user.id, "pytest", "Linux"),
    )
    assert (await _me(client, unknown))[0] == 200
    # A brand-new login works at once.
    assert (await _me(client, await _login(client, user)))[0] == 200


async def test_a_session_token_sent_as_an_api_key_is_refused(client: Any, make_user: MakeUser, watch: None) -> None:
    user = await make_user()
    assert (await _me(client, user.headers))[0] == 200  # the session is cached
    assert await _me(client, {"x-api-key": user.token}) == (401, {"message": "Invalid API key"})
