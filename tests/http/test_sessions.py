"""The Sessions tag: listing with the current flag, child sessions, deletion, locking, ownership."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from immich_trio import crypto
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

SESSION_KEYS = [
    "id",
    "createdAt",
    "updatedAt",
    "current",
    "appVersion",
    "deviceOS",
    "deviceType",
    "isPendingSyncReset",
]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_id_of(sql: Sql, token: str) -> str:
    return str(
        sql("SELECT id::text FROM session WHERE token = %s", (crypto.hash_token(token),))[0][0]
    )


async def second_session(client: Any, user: UserCreds, user_agent: str = "") -> str:
    response = await client.post(
        "/api/auth/login",
        json={"email": user.email, "password": user.password},
        headers={"User-Agent": user_agent} if user_agent else {},
    )
    assert response.status_code == 201
    client.cookie_jar.clear()
    return str((await response.get_json())["accessToken"])


async def api_key(client: Any, user: UserCreds, *permissions: str) -> dict[str, str]:
    response = await client.post(
        "/api/api-keys", headers=user.headers, json={"permissions": list(permissions)}
    )
    assert response.status_code == 201
    return {"x-api-key": (await response.get_json())["secret"]}


async def test_list_sessions_marks_the_current_one(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("a@example.com")
    other = await second_session(client, user, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    stranger = await make_user("b@example.com")

    response = await client.get("/api/sessions", headers=user.headers)
    assert response.status_code == 200
    sessions = await response.get_json()
    assert len(sessions) == 2
    assert all(list(s) == SESSION_KEYS for s in sessions)  # no expiresAt when it never expires
    by_id = {s["id"]: s for s in sessions}
    mine = by_id[session_id_of(sql, user.token)]
    theirs = by_id[session_id_of(sql, other)]
    assert mine["current"] is True
    assert theirs["current"] is False
    assert mine["deviceType"] == "pytest" and mine["deviceOS"] == "Linux"
    assert theirs["deviceType"] == "Firefox" and theirs["deviceOS"] == "Linux"
    assert theirs["appVersion"] is None
    assert theirs["isPendingSyncReset"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", mine["createdAt"])
    assert session_id_of(sql, stranger.token) not in by_id

    # seen from the other session, the flag moves
    flipped = {
        s["id"]: s["current"]
        for s in await (await client.get("/api/sessions", headers=bearer(other))).get_json()
    }
    assert flipped == {mine["id"]: False, theirs["id"]: True}


async def test_expired_sessions_are_not_listed(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("exp@example.com")
    other = await second_session(client, user)
    sql(
        """UPDATE session SET "expiresAt" = now() - interval '1 hour' WHERE token = %s""",
        (crypto.hash_token(other),),
    )
    sessions = await (await client.get("/api/sessions", headers=user.headers)).get_json()
    assert [s["id"] for s in sessions] == [session_id_of(sql, user.token)]


async def test_create_child_session(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("cast@example.com")
    response = await client.post(
        "/api/sessions",
        headers=user.headers,
        json={"deviceType": "Chromecast", "deviceOS": "Cast", "duration": 3600},
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert list(body) == [
        "id",
        "createdAt",
        "updatedAt",
        "expiresAt",
        "current",
        "appVersion",
        "deviceOS",
        "deviceType",
        "isPendingSyncReset",
        "token",
    ]
    assert body["current"] is False
    assert body["deviceType"] == "Chromecast" and body["deviceOS"] == "Cast"
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=30)
    parent = sql('SELECT "parentId"::text FROM session WHERE id = %s', (body["id"],))[0][0]
    assert parent == session_id_of(sql, user.token)

    # the child token is a working credential
    child = await client.get("/api/sessions", headers=bearer(body["token"]))
    assert child.status_code == 200
    assert {s["id"]: s["current"] for s in await child.get_json()}[body["id"]] is True

    # no duration: never expires, and device fields default to empty strings
    plain = await (await client.post("/api/sessions", headers=user.headers, json={})).get_json()
    assert "expiresAt" not in plain
    assert plain["deviceType"] == "" and plain["deviceOS"] == ""


async def test_create_session_validation_and_api_key(client: Any, make_user: MakeUser) -> None:
    user = await make_user("cv@example.com")
    bad = await client.post("/api/sessions", headers=user.headers, json={"duration": 0})
    assert bad.status_code == 400
    assert (await bad.get_json())["message"] == "Validation failed"
    key = await api_key(client, user, "all")
    response = await client.post("/api/sessions", headers=key, json={})
    assert response.status_code == 400
    assert await response.get_json() == {
        "message": "This endpoint can only be used with a session token"
    }


async def test_delete_all_sessions_keeps_the_current_one(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("all@example.com")
    others = [await second_session(client, user) for _ in range(2)]
    stranger = await make_user("keep@example.com")
    response = await client.delete("/api/sessions", headers=user.headers)
    assert response.status_code == 204
    assert await response.get_data() == b""
    for token in others:
        gone = await client.get("/api/sessions", headers=bearer(token))
        assert gone.status_code == 401
        assert await gone.get_json() == {"message": "Invalid user token"}
    remaining = await (await client.get("/api/sessions", headers=user.headers)).get_json()
    assert [s["id"] for s in remaining] == [session_id_of(sql, user.token)]
    assert (await client.get("/api/sessions", headers=stranger.headers)).status_code == 200


async def test_delete_one_session(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("one@example.com")
    other = await second_session(client, user)
    other_id = session_id_of(sql, other)
    response = await client.delete(f"/api/sessions/{other_id}", headers=user.headers)
    assert response.status_code == 204
    gone = await client.get("/api/sessions", headers=bearer(other))
    assert gone.status_code == 401
    assert await gone.get_json() == {"message": "Invalid user token"}
    assert (await client.get("/api/sessions", headers=user.headers)).status_code == 200

    again = await client.delete(f"/api/sessions/{other_id}", headers=user.headers)
    assert again.status_code == 400
    assert await again.get_json() == {"message": "Not found or no authDevice.delete access"}
    invalid = await client.delete("/api/sessions/not-a-uuid", headers=user.headers)
    assert invalid.status_code == 400
    assert (await invalid.get_json())["message"] == "Validation failed"


async def test_another_users_session_is_out_of_reach(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    alice = await make_user("alice@example.com")
    bob = await make_user("bob@example.com")
    bob_session = session_id_of(sql, bob.token)
    sql(
        """UPDATE session SET "pinExpiresAt" = now() + interval '10 minutes' WHERE id = %s""",
        (bob_session,),
    )

    for session_id in (bob_session, MISSING_ID):
        delete = await client.delete(f"/api/sessions/{session_id}", headers=alice.headers)
        assert delete.status_code == 400
        assert await delete.get_json() == {"message": "Not found or no authDevice.delete access"}
        lock = await client.post(f"/api/sessions/{session_id}/lock", headers=alice.headers)
        assert lock.status_code == 400
        assert await lock.get_json() == {"message": "Not found or no session.lock access"}
        update = await client.put(
            f"/api/sessions/{session_id}", headers=alice.headers, json={"isPendingSyncReset": True}
        )
        assert update.status_code == 400
        assert await update.get_json() == {"message": "Not found or no session.update access"}

    # Bob's session is untouched
    row = sql(
        'SELECT "pinExpiresAt" IS NOT NULL, "isPendingSyncReset" FROM session WHERE id = %s',
        (bob_session,),
    )
    assert row == [(True, False)]
    assert (await client.get("/api/sessions", headers=bob.headers)).status_code == 200


async def test_lock_session(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("lock@example.com")
    other = await second_session(client, user)
    other_id = session_id_of(sql, other)
    sql("""UPDATE session SET "pinExpiresAt" = now() + interval '10 minutes'""")
    response = await client.post(f"/api/sessions/{other_id}/lock", headers=user.headers)
    assert response.status_code == 204
    assert sql('SELECT "pinExpiresAt" IS NULL FROM session WHERE id = %s', (other_id,)) == [(True,)]
    # only that one
    status = await (await client.get("/api/auth/status", headers=user.headers)).get_json()
    assert status["isElevated"] is True


async def test_update_session(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("upd@example.com")
    session_id = session_id_of(sql, user.token)
    response = await client.put(
        f"/api/sessions/{session_id}", headers=user.headers, json={"isPendingSyncReset": True}
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["id"] == session_id
    assert body["isPendingSyncReset"] is True
    assert sql('SELECT "isPendingSyncReset" FROM session WHERE id = %s', (session_id,)) == [(True,)]

    patched = await client.patch(
        f"/api/sessions/{session_id}", headers=user.headers, json={"isPendingSyncReset": False}
    )
    assert patched.status_code == 200
    assert (await patched.get_json())["isPendingSyncReset"] is False

    empty = await client.put(f"/api/sessions/{session_id}", headers=user.headers, json={})
    assert empty.status_code == 400
    assert await empty.get_json() == {"message": "No fields to update"}
    wrong_type = await client.put(
        f"/api/sessions/{session_id}", headers=user.headers, json={"isPendingSyncReset": "yes"}
    )
    assert wrong_type.status_code == 400
    assert (await wrong_type.get_json())["message"] == "Validation failed"


async def test_session_routes_with_api_key_permissions(client: Any, make_user: MakeUser) -> None:
    user = await make_user("perm@example.com")
    read_only = await api_key(client, user, "session.read")
    listed = await client.get("/api/sessions", headers=read_only)
    assert listed.status_code == 200
    # an API key has no session, so none is current
    assert [s["current"] for s in await listed.get_json()] == [False]
    refused = await client.delete("/api/sessions", headers=read_only)
    assert refused.status_code == 403
    assert await refused.get_json() == {"message": "Missing required permission: session.delete"}
